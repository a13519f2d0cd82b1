import matplotlib
import torch

matplotlib.use("Agg")
# Tiny models gain nothing from a second thread, and OpenMP's spin-waiting makes a
# multi-threaded torch crawl when the cores are shared (e.g. pytest beside other work).
torch.set_num_threads(1)
