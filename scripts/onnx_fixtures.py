"""Generates the ONNX test fixtures in models/tests/fixtures/onnx/.

Run once by a developer (CI does not need PyTorch):

    python3 -m venv /tmp/torch && /tmp/torch/bin/pip install torch onnx
    /tmp/torch/bin/python scripts/onnx_fixtures.py ../shared/data/mnist

It trains three small networks on MNIST for one epoch with PyTorch and
exports each with torch.onnx.export (opset 13, dynamic batch):

* mnist_fc.onnx: the SecureML network 784-128-128-10, written with
  x.view(x.size(0), -1) so the export has PyTorch's Shape/Gather/
  Unsqueeze/Concat chain;
* mnist_cnn.onnx: a LeNet-like CNN (conv 5x5 x8, max pool, conv 5x5 x16,
  max pool, dense 100, dense 10);
* mnist_bn.onnx: convolutions with batch normalisation, an asymmetric
  zero padding, average pooling, tanh, a dense layer with batch
  normalisation and a sigmoid, and a final log-softmax; exported without
  constant folding, so every BatchNormalization node is in the file.

Beside them it writes mnist_test100.csv (the first 100 test images, pixels
scaled to [0, 1] and rounded to 4 decimals, with their labels), NAME.outputs.csv
(what PyTorch's model outputs for those rows, as parsed from the CSV) and
NAME.classes.txt (PyTorch's predicted class for each of the 10000 test
images, pixels / 255), which tests and benchmarks must reproduce.
"""

import gzip
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(__file__), "..", "models", "tests", "fixtures", "onnx")


def idx(path):
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(root, prefix):
    def find(name):
        for suffix in ("", ".gz"):
            p = os.path.join(root, name + suffix)
            if os.path.exists(p):
                return p
        raise FileNotFoundError(name)

    x = idx(find(f"{prefix}-images-idx3-ubyte")).astype(np.float32) / 255.0
    y = idx(find(f"{prefix}-labels-idx1-ubyte")).astype(np.int64)
    return torch.from_numpy(x).unsqueeze(1), torch.from_numpy(y)


class Fc(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1, self.l2, self.l3 = nn.Linear(784, 128), nn.Linear(128, 128), nn.Linear(128, 10)

    def forward(self, x):
        x = x.view(x.size(0), -1)
        return self.l3(F.relu(self.l2(F.relu(self.l1(x)))))


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(1, 8, 5), nn.Conv2d(8, 16, 5)
        self.f1, self.f2 = nn.Linear(256, 100), nn.Linear(100, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        x = x.view(x.size(0), -1)
        return self.f2(F.relu(self.f1(x)))


class Bn(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(1, 6, 3, padding=1), nn.BatchNorm2d(6)
        self.pad = nn.ZeroPad2d((0, 1, 0, 1))
        self.c2, self.b2 = nn.Conv2d(6, 12, 3, stride=2), nn.BatchNorm2d(12)
        self.f1, self.b3 = nn.Linear(12 * 7 * 7, 64), nn.BatchNorm1d(64)
        self.f2 = nn.Linear(64, 10)

    def forward(self, x):
        x = F.relu(self.b1(self.c1(x)))
        x = F.avg_pool2d(x, 2)
        x = torch.tanh(self.b2(self.c2(self.pad(x))))
        x = torch.flatten(x, 1)
        x = torch.sigmoid(self.b3(self.f1(x)))
        return F.log_softmax(self.f2(x), dim=1)


def train(model, x, y):
    torch.manual_seed(0)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    perm = torch.randperm(len(x))
    for i in range(0, len(x), 64):
        b = perm[i : i + 64]
        opt.zero_grad()
        out = model(x[b])
        loss = F.nll_loss(out, y[b]) if isinstance(model, Bn) else F.cross_entropy(out, y[b])
        loss.backward()
        opt.step()
    model.eval()


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/mnist"
    os.makedirs(OUT, exist_ok=True)
    xtr, ytr = load(root, "train")
    xte, yte = load(root, "t10k")
    few = np.round(xte[:100].reshape(100, 784).numpy(), 4)
    with open(os.path.join(OUT, "mnist_test100.csv"), "w") as f:
        f.write(",".join([f"p{i}" for i in range(784)] + ["label"]) + "\n")
        for row, label in zip(few, yte[:100].tolist()):
            f.write(",".join(f"{v:.4g}" for v in row) + f",{label}\n")
    few_t = torch.from_numpy(few.astype(np.float32)).reshape(100, 1, 28, 28)
    for name, cls in [("mnist_fc", Fc), ("mnist_cnn", Cnn), ("mnist_bn", Bn)]:
        torch.manual_seed(1)
        model = cls()
        train(model, xtr, ytr)
        with torch.no_grad():
            classes = model(xte).argmax(1)
            outputs = model(few_t).numpy()
        acc = (classes == yte).float().mean().item()
        print(f"{name}: test accuracy {100 * acc:.2f}%")
        path = os.path.join(OUT, f"{name}.onnx")
        torch.onnx.export(
            model,
            torch.zeros(1, 1, 28, 28),
            path,
            input_names=["image"],
            output_names=["logits"],
            dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=13,
            dynamo=False,
            # The batch-norm model keeps its BatchNormalization nodes (and
            # PyTorch's unfolded shape chains) so that tessera's folding is
            # what is tested; the others are exported as PyTorch does by default.
            do_constant_folding=name != "mnist_bn",
        )
        np.savetxt(os.path.join(OUT, f"{name}.outputs.csv"), outputs, fmt="%.6f", delimiter=",")
        with open(os.path.join(OUT, f"{name}.classes.txt"), "w") as f:
            f.write("".join(str(c) for c in classes.tolist()) + "\n")


if __name__ == "__main__":
    main()
