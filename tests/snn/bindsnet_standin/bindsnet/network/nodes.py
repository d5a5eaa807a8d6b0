import torch


class Nodes(torch.nn.Module):
    def __init__(self, n, **buffers):
        super().__init__()
        self.n, self.shape, self.learning, self.batch_size = n, [n], False, 1
        self.register_buffer("s", torch.zeros(1, n, dtype=torch.bool))
        for k, v in buffers.items():
            self.register_buffer(k, torch.tensor(v))


class Input(Nodes):
    def __init__(self, n, shape=None):
        super().__init__(n, tc_trace=20.0)
        self.shape = shape


class LIFNodes(Nodes):
    def __init__(self, n, rest, reset, thresh, refrac, tc_decay):
        super().__init__(n, rest=rest, reset=reset, thresh=thresh, refrac=refrac, tc_decay=tc_decay)
        self.register_buffer("v", torch.full((1, n), rest))
        self.lbound = None


class DiehlAndCookNodes(LIFNodes):
    def __init__(self, n, rest, reset, thresh, refrac, tc_decay, theta_plus, tc_theta_decay, theta):
        super().__init__(n, rest, reset, thresh, refrac, tc_decay)
        self.register_buffer("theta_plus", torch.tensor(theta_plus))
        self.register_buffer("tc_theta_decay", torch.tensor(tc_theta_decay))
        self.register_buffer("theta", torch.as_tensor(theta, dtype=torch.float32))
        self.one_spike = True
