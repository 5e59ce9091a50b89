"""The benchmark workloads' configs (docs/benchmarks.md), shared by the
measuring tools (ab-bench, pair-bench, compare-pytorch, scaling-study),
which import it from their own directory."""

CONFIGS = {"W1": "configs/bench/lenet5.yaml", "W2": "configs/bench/alexnet-cifar.yaml", "W3": "configs/bench/resnet20.yaml",
           "W4": "configs/bench/alexnet-imagenet.yaml"}
