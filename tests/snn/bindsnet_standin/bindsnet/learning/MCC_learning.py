"""Learning-rule objects as BindsNET pickles them (state only)."""


class NoOp:
    pass


class PostPre:
    def __init__(self, connection, nu=(1e-4, 1e-2), wmin=0.0, wmax=1.0):
        import torch

        self.connection, self.nu, self.min, self.max = connection, torch.tensor(nu), wmin, wmax
        self.reduction = torch.sum  # pickled as getattr(torch._C._VariableFunctionsClass, 'sum')
        self.update = self._connection_update  # a bound method: getattr(<rule>, '_connection_update')

    def _connection_update(self):
        pass
