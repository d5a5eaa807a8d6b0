"""DiehlAndCook2015 as BindsNET 0.3.4 builds it (layers X, Ae, Ai; MulticompartmentConnection + Weight)."""
import torch

from bindsnet.learning.MCC_learning import NoOp, PostPre
from bindsnet.network.network import Network
from bindsnet.network.nodes import DiehlAndCookNodes, Input, LIFNodes
from bindsnet.network.topology import MulticompartmentConnection
from bindsnet.network.topology_features import Weight


class DiehlAndCook2015(Network):
    def __init__(self, w, theta, exc=22.5, inh=120.0, dt=1.0, norm=78.4, nu=(1e-4, 1e-2), theta_plus=0.05):
        super().__init__(dt=dt)
        n = w.shape[1]
        self.n_inpt, self.n_neurons, self.exc, self.inh = w.shape[0], n, exc, inh
        x = Input(w.shape[0], shape=(1, 28, 28))
        ae = DiehlAndCookNodes(n, -65.0, -60.0, -52.0, 5, 100.0, theta_plus, 1e7, theta)
        ai = LIFNodes(n, -60.0, -45.0, -40.0, 2, 10.0)
        c = MulticompartmentConnection(x, ae, [Weight("weight", w, norm=norm)])
        c.pipeline[0].learning_rule = PostPre(c, nu)
        ei = MulticompartmentConnection(ae, ai, [Weight("weight", exc * torch.eye(n), learning_rule=NoOp())])
        ie = MulticompartmentConnection(ai, ae, [Weight("weight", -inh * (1 - torch.eye(n)), learning_rule=NoOp())])
        for name, layer in (("X", x), ("Ae", ae), ("Ai", ai)):
            self.add_layer(layer, name)
        for (s, t), conn in ((("X", "Ae"), c), (("Ae", "Ai"), ei), (("Ai", "Ae"), ie)):
            self.add_connection(conn, s, t)
