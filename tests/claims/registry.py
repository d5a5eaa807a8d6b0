"""Where every bold figure of docs/results.md (and of the results table on README.md's front page) is checked: a
claims test (``-m claims``, this folder) that reproduces it within a stated tolerance, or the benchmark/command that
measures it (too long for a test: full-MNIST trainings of minutes to hours, BindsNET, a GPU, a 4-hour study).
``test_registry.py`` fails when a bold figure has no entry, so neither file can gain an unchecked headline."""

#: bold text fragment -> "test:<test function in tests/claims>" or "bench:<command that measures it>"
CLAIMS: dict[str, str] = {
    "4.05 s": "test:test_device_constants_and_retention",
    "5.7 years": "test:test_device_constants_and_retention",
    "132/132": "test:test_write_physics_against_the_stored_cmtj_grid",
    "127/127": "test:test_write_physics_against_the_stored_cmtj_grid",
    "t0 21.28, t1 48.01 ms": "bench:spinsyn device sweep --model compound --switching author --engine reference "
                             "--dt-ms 0:60:1 --trials 50 --out a.h5 && spinsyn fit a.h5 --model bisigmoid --out a.json",
    "t0 20.54, t1 48.95 ms": "test:test_physical_testbench_reproduces_the_published_curve",
    "0 mismatches in 3,840": "test:tests/devices/test_spice_agreement.py (-m slow)",
    "7.0×": "bench:python benchmarks/bench_device_sweep.py",
    "11,271×": "bench:python benchmarks/bench_device_sweep.py",
    "5.4×": "bench:python benchmarks/bench_device_sweep.py --model compound --n-dt 10 --trials 4",
    "299×": "bench:python benchmarks/bench_snn_vs_bindsnet.py (BindsNET venv, ../shared/PEERS.md)",
    "349×": "bench:python benchmarks/bench_snn_vs_bindsnet.py (BindsNET venv, ../shared/PEERS.md)",
    "95×": "bench:python benchmarks/bench_snn_vs_bindsnet.py (BindsNET venv, ../shared/PEERS.md)",
    "85.85 %": "test:test_full_mnist_100_neurons",
    "84.84 %": "test:test_full_mnist_100_neurons",
    "91.56 %": "bench:spinsyn train --synapse ideal --neurons 400 --epochs 3 --data-dir ../shared/data/mnist",
    "90.67 %": "bench:spinsyn train --synapse compound:8 --neurons 400 --epochs 3 --data-dir ../shared/data/mnist",
    "44 s on": "bench:python benchmarks/bench_gpu_epoch.py (needs a GPU)",
    "92.04 %": "bench:spinsyn train --input diehl-cook --synapse ideal --neurons 1600 --epochs 7 "
               "--data-dir ../shared/data/mnist (35 min)",
    "92.21 %": "bench:spinsyn train --input diehl-cook --synapse compound:8 --neurons 1600 --epochs 7 "
               "--data-dir ../shared/data/mnist (43 min)",
    "93.00 %": "bench:spinsyn train --network lc --lc-filters 500 --learning-rule postpre --threads 1 --no-plots "
               "--data-dir ../shared/data/mnist --out RUN (24 min; benchmarks/results/lc_accuracy_f500_postpre.json)",
    "96.34 %": "bench:python benchmarks/conv_accuracy.py --n-train 60000 --n-test 10000 --conv-epochs 2,4,0 "
               "--synapse ideal --seed 0 --out RUN, then --conv-epochs 2,4,680 --test-every 10 --resume "
               "(benchmarks/results/conv_accuracy_ideal_60k_long.json, pass 680)",
    "95.93 % after 380": "bench:python benchmarks/conv_accuracy.py --n-train 60000 --n-test 10000 --conv-epochs 2,4,0 "
               "--synapse compound:8 --seed 0 --out RUN, then --conv-epochs 2,4,680 --test-every 10 --resume "
               "(benchmarks/results/conv_accuracy_compound8_fullrange_60k.json, pass 380)",
    "95.93 %": "bench:spinsyn export RUN --out CHIP && spinsyn export simulate CHIP --n-test 10000 (the "
               "compound:8 conv run after 90 passes; benchmarks/results/conv_chip_compound8_fullrange_p90.json)",
    "94.88 %": "bench:spinsyn export simulate CHIP --n-test 10000 "
               "(benchmarks/results/conv_chip_compound8_fullrange_p90.json)",
    "1.05 points [0.76, 1.34]": "bench:spinsyn export simulate CHIP --n-test 10000 "
                                "(benchmarks/results/conv_chip_compound8_fullrange_p90.json)",
    "95.92 %": "bench:spinsyn export RUN --out CHIP && spinsyn export simulate CHIP --n-test 10000 (the "
               "compound:8 conv run after 380 passes; benchmarks/results/conv_chip_compound8_fullrange_p380.json)",
    "95.74 %": "bench:spinsyn export simulate CHIP --n-test 10000 "
               "(benchmarks/results/conv_chip_compound8_fullrange_p380.json)",
    "0.18 points [−0.07, 0.43]": "bench:spinsyn export simulate CHIP --n-test 10000 "
                                 "(benchmarks/results/conv_chip_compound8_fullrange_p380.json)",
    "4.6×": "bench:python benchmarks/bench_conv_spyketorch.py (SpykeTorch venv: benchmarks/setup_spyketorch.sh)",
    "12.3×": "bench:python benchmarks/bench_conv_spyketorch.py --epochs 1,1,10 (benchmarks/results/"
             "conv_spyketorch_e10.json)",
    "19.9×": "bench:python benchmarks/bench_conv_spyketorch.py --epochs 1,1,10 (benchmarks/results/"
             "conv_spyketorch_e10.json)",
    "89.2 %": "bench:python benchmarks/nir_agreement.py RUN --n 1000 (test_nir_export: >= 0.85 on 100 images)",
    "72.9 %": "bench:python benchmarks/bench_bindsnet_import.py --n-train 3000 --n-test 1000",
    "72.3 %": "bench:python benchmarks/bench_bindsnet_import.py --n-train 3000 --n-test 1000",
    "0.00": "bench:spinsyn export RUN --out CHIP && spinsyn export simulate CHIP --n-test 10000 (round-trip table)",
    "−0.07 points": "bench:spinsyn export RUN --out CHIP && spinsyn export simulate CHIP --n-test 10000",
    "−0.03 points": "bench:spinsyn export RUN --out CHIP && spinsyn export simulate CHIP --n-test 10000",
    "29.7 %": "bench:python benchmarks/bench_cmtj.py --replay CHIP_BEFORE (the spinsyn row; "
              "benchmarks/results/cmtj_replay_before_chip.json)",
    "27.6 %": "bench:python benchmarks/bench_cmtj.py --replay CHIP --trials 2000 --jobs 2 "
              "(benchmarks/results/cmtj_replay_before_chip.json)",
    "1.56, 1.3e-5": "test:test_stored_cmtj_replays_meet_the_criterion",
    "64.0 % at 0, 1 and 10 years": "test:test_retentive_chip_holds_ten_years",
    "577 / 825 / 1,288 MB": "bench:python benchmarks/bench_export.py --sizes 1,10,30",
    "22.96 s": "bench:python benchmarks/bench_export.py --sizes 1,10,30",
    "2.65–2.86 s": "bench:python benchmarks/bench_export.py --repeat 5",
    "1 M synapses in 2.65–2.86 s": "bench:python benchmarks/bench_export.py --repeat 5",
    "3.35 s": "bench:python benchmarks/bench_export.py --sizes 1,10,30",
    "75.3 s": "bench:python benchmarks/bench_study_scaling.py --repeat 2",
    "39.2 s": "bench:python benchmarks/bench_study_scaling.py --repeat 2",
    "0.96": "bench:python benchmarks/bench_study_scaling.py --repeat 2",
    "0.049 s": "bench:python benchmarks/bench_cli.py",
    "545×": "bench:python benchmarks/bench_crossbar_solver.py --sizes 32,64,128 (agreement: "
            "tests/hw_export/test_circuit_solver.py, 128x128 -m slow)",
    "2e-5": "bench:python benchmarks/circuit_accuracy.py --run RUN400 --sweep tile --values 16,32,64,128 "
            "--n-test 10000 (benchmarks/results/circuit_tile.json; tests/hw_export/test_circuit_program.py, tiny run)",
    "0.231": "bench:python benchmarks/circuit_accuracy.py --run RUN400 --sweep tile --values 16,32,64,128 "
             "--n-test 10000",
    "more than 1 point at 32×32": "bench:python benchmarks/circuit_accuracy.py --run RUN400 --sweep tile --values "
                                  "16,32,64,128 --n-test 10000",
    "32×32 with 3-bit ADCs (1.97 mm², 113 nJ, 63.2 %)": "bench:spinsyn study examples/study_tile_adc.toml --out DIR",
    "1.29 s": "bench:python benchmarks/bench_cli.py",
    "1.20×": "bench:python benchmarks/bench_threads.py --repeat 2 --data-dir ../shared/data/mnist",
    "68.7": "bench:spinsyn study examples/study_n_mtj.toml --out DIR --scheduler local:2",
}

#: bold run-in headings of the Results section that contain digits but state no figure
HEADINGS = ("Speed vs BindsNET 0.3.4", "Scale: 100 / 400 / 1600 neurons", "Checkpoint v3")
