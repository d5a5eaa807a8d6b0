"""Convert aihwkit's ``examples/csv/gong_et_al.csv`` (two columns: the normalised conductance after each of 1000
consecutive up pulses, then after each of 1000 consecutive down pulses) into the pulse-response table that
``spinsyn device fit --family graded`` reads. The original numbers are kept (column ``w_norm``); the file holds no
absolute conductance, so ``G (uS)`` = w_norm + 2 (an offset that makes G positive; 1 unit = 1 uS). The fitted
nonlinearity (A/P) does not depend on this choice; the fit's RMS is reported relative to the range."""

import csv
from pathlib import Path

HERE = Path(__file__).parent
OFFSET = 2.0


def main(out: Path = HERE / "gong_ltp_ltd.csv") -> None:
    with open(HERE / "gong_et_al.csv", newline="", encoding="utf-8-sig") as f:
        rows = [(float(a), float(b)) for a, b in csv.reader(f)]
    lines = ["# Gong et al., Nat. Commun. 9, 2102 (2018): HfO2 ReRAM, 1000 up then 1000 down pulses (via aihwkit,",
             "# examples/csv/gong_et_al.csv; see README.md). G (uS) = w_norm + 2 (the source is normalised).",
             "cycle;pulse;direction;G (uS);w_norm"]
    seq = [("LTP", up) for up, _ in rows] + [("LTD", down) for _, down in rows]
    lines += [f"1;{i};{d};{w + OFFSET:.6g};{w:.6g}" for i, (d, w) in enumerate(seq, start=1)]
    Path(out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
