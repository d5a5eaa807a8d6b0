"""``spinsyn import bindsnet NET.pt --out RUN [--labels FILE]`` (registered by :mod:`spinsyn.snn.cli`)."""

from __future__ import annotations

import argparse


def register_import(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``import`` command (one source format so far: ``bindsnet``)."""
    p = subparsers.add_parser("import", help="import a network trained elsewhere as a spinsyn run",
                              description="Import a network trained elsewhere into a spinsyn run folder; eval, "
                                          "export and simulate then work as for any run.")
    sub = p.add_subparsers(dest="source_kind", metavar="FORMAT", required=True)
    b = sub.add_parser("bindsnet", help="a DiehlAndCook2015 network saved by BindsNET 0.3.x (network.save)",
                       description="Read a BindsNET DiehlAndCook2015 network file WITHOUT executing its pickle "
                                   "(a restricted reader: BindsNET's classes become inert records; any other "
                                   "callable is refused, naming it) and write a run folder (ideal synapses, "
                                   "BindsNET's weights, θ and neuron parameters).")
    b.add_argument("net_file", metavar="NET.pt", help="file written by BindsNET's Network.save()")
    b.add_argument("--out", required=True, metavar="RUN_DIR", help="new run folder")
    b.add_argument("--labels", default=None, metavar="FILE",
                   help="per-neuron class indices saved with torch.save (what bindsnet.evaluation.assign_labels "
                        "returns; -1 = unassigned); without it, assign labels with 'spinsyn eval RUN --assign N'")
    b.add_argument("--intensity", type=float, default=None, metavar="HZ",
                   help="Poisson rate of a white pixel used with this network (default 128, eth_mnist)")
    b.add_argument("--time-ms", type=float, default=None, help="presentation per image in ms (default 250)")
    b.set_defaults(func=cmd_import_bindsnet)


def cmd_import_bindsnet(args: argparse.Namespace) -> int:
    from spinsyn.validation import check_output_folder  # lazy: startup

    from .bindsnet_import import import_bindsnet  # lazy: startup

    # output policy: --out is neither NET.pt nor the labels file, holds neither, and lies in no run, chip, study
    # or pipeline folder; import_bindsnet then refuses an existing run or a non-empty folder
    check_output_folder(args.out, "--out", inputs=(args.net_file, args.labels))
    r = import_bindsnet(args.net_file, args.out, args.labels, intensity_Hz=args.intensity, time_ms=args.time_ms)
    lab = (f"labels for {r['assigned']} of {r['neurons']} neurons" if r["assigned"] is not None
           else f"no labels (assign them: spinsyn eval {r['run_dir']} --assign N)")
    print(f"imported {args.net_file}: {r['neurons']} neurons, θ {r['theta_mV'][0]:.3g}..{r['theta_mV'][1]:.3g} mV, "
          f"{lab} -> {r['run_dir']}")
    for note in r["notes"]:
        print(f"  note: {note}")
    return 0
