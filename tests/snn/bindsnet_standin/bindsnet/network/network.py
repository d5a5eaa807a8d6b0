import torch


class Network(torch.nn.Module):
    def __init__(self, dt=1.0):
        super().__init__()
        self.dt, self.batch_size, self.learning = dt, 1, True
        self.layers, self.connections, self.monitors = {}, {}, {}

    def add_layer(self, layer, name):
        self.layers[name] = layer
        self.add_module(name, layer)

    def add_connection(self, connection, source, target):
        self.connections[(source, target)] = connection
        self.add_module(f"{source}_to_{target}", connection)

    def save(self, file_name):
        torch.save(self, open(file_name, "wb"))
