"""Defaults users see in `registry --help`, importable without torch or numpy."""

# Blind mode's default, chosen by bench/noise_estimation.py: the lowest error averaged over
# gray BSD68, colour CBSD68 (sigma 5-50) and CC15's real noise (see README, Benchmarks).
BLIND_DEFAULT = "liu"

DEFAULT_TILE = 768  # core side: with the reference U-Net's 128-pixel margin a tile is 1024x1024, about 0.8 GB
