import torch


class Weight:
    def __init__(self, name, value, norm=None, learning_rule=None):
        self.name, self.value, self.norm = name, torch.nn.Parameter(value, requires_grad=False), norm
        self.learning_rule = learning_rule
