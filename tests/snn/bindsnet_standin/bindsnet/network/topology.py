import torch


class MulticompartmentConnection(torch.nn.Module):
    def __init__(self, source, target, pipeline):
        super().__init__()
        self.source, self.target, self.pipeline = source, target, pipeline
        self.feature_index = {f.name: f for f in pipeline}
