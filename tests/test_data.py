"""Datasets, seeded splits, batched augmentation and deterministic iteration."""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import pytest
import torch

from genospec.data import (Augment, TensorSplit, iterate, load_dataset, make_synthetic,
                           num_batches, split_train_val, subset)
from genospec.data.augment import apply, cutout, flip, random_crop
from genospec.data.readers import FASHION_MNIST_MEAN, FASHION_MNIST_ROOT, read_fashion_mnist
from genospec.errors import DataError, GenospecError

# -- Fashion-MNIST -------------------------------------------------------------------------------


def _write_idx(path: Path, magic: int, array: torch.Tensor, truncate: int = 0) -> None:
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    data = header + bytes(array.flatten().tolist())
    with gzip.open(path, "wb") as f:
        f.write(data[:len(data) - truncate])


def _fake_fashion(root: Path, truncate: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.arange(3 * 28 * 28).remainder(256).to(torch.uint8).reshape(3, 28, 28)
    labels = torch.tensor([7, 0, 9], dtype=torch.uint8)
    for prefix in ("train", "t10k"):
        _write_idx(root / f"{prefix}-images-idx3-ubyte.gz", 2051, images, truncate)
        _write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", 2049, labels)
    return images, labels


def test_fashion_mnist_reader_pads_to_32(tmp_path):
    images, labels = _fake_fashion(tmp_path)
    train, test = read_fashion_mnist(tmp_path)
    assert train.images.shape == (3, 1, 32, 32) and train.images.dtype == torch.uint8
    assert torch.equal(train.images[:, 0, 2:30, 2:30], images)
    assert int(train.images[:, :, :2].sum() + train.images[:, :, 30:].sum()) == 0
    assert int(train.images[..., :2].sum() + train.images[..., 30:].sum()) == 0
    assert train.labels.tolist() == [7, 0, 9] and train.labels.dtype == torch.int64
    assert len(test) == 3


def test_fashion_mnist_missing_says_how_to_install(tmp_path):
    with pytest.raises(DataError) as err:
        load_dataset("fashion_mnist", root=tmp_path / "nowhere")
    assert "apt-get install dataset-fashion-mnist" in str(err.value)
    assert "--data-root" in str(err.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz not found"):
        load_dataset("fashion_mnist", root=tmp_path / "empty")


def test_fashion_mnist_truncated_file_is_a_data_error(tmp_path):
    _fake_fashion(tmp_path, truncate=5)
    with pytest.raises(DataError, match="truncated or corrupt"):
        read_fashion_mnist(tmp_path)
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="cannot read"):
        read_fashion_mnist(tmp_path)


@pytest.mark.skipif(not Path(FASHION_MNIST_ROOT).is_dir(), reason="dataset-fashion-mnist absent")
def test_fashion_mnist_real_files():
    ds = load_dataset()
    assert (ds.name, ds.in_chans, ds.size, ds.num_classes) == ("fashion_mnist", 1, 32, 10)
    assert ds.train.images.shape == (60000, 1, 32, 32)
    assert ds.test.images.shape == (10000, 1, 32, 32)
    assert ds.train.labels.bincount().tolist() == [6000] * 10
    inner = ds.train.images[:, :, 2:30, 2:30].double() / 255
    assert abs(inner.mean().item() - FASHION_MNIST_MEAN[0]) < 1e-4


# -- CIFAR and ImageFolder -----------------------------------------------------------------------


def _fake_cifar10(root: Path) -> None:
    base = root / "cifar-10-batches-py"
    base.mkdir(parents=True)
    g = torch.Generator().manual_seed(0)
    for k, name in enumerate([f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]):
        data = torch.randint(0, 256, (2, 3072), generator=g, dtype=torch.uint8).numpy()
        with open(base / name, "wb") as f:
            pickle.dump({"data": data, "labels": [k % 10, (k + 1) % 10]}, f)
    with open(base / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"c{i}" for i in range(10)]}, f)


def test_cifar10_from_torchvision_layout(tmp_path, monkeypatch):
    import torchvision.datasets.cifar as cifar

    _fake_cifar10(tmp_path)
    monkeypatch.setattr(cifar, "check_integrity", lambda *a, **k: True)  # fake files, no md5
    ds = load_dataset("cifar10", root=tmp_path)
    assert (ds.in_chans, ds.size, ds.num_classes) == (3, 32, 10)
    assert ds.train.images.shape == (10, 3, 32, 32) and len(ds.test) == 2
    assert ds.train.labels.tolist()[:4] == [0, 1, 1, 2]
    with open(tmp_path / "cifar-10-batches-py" / "data_batch_1", "rb") as f:
        raw = torch.from_numpy(pickle.load(f)["data"][0]).reshape(3, 32, 32)
    assert torch.equal(ds.train.images[0], raw)  # channel-first, unchanged pixels


def test_cifar_missing_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="cifar-10-batches-py"):
        load_dataset("cifar10", root=tmp_path)
    with pytest.raises(DataError, match="--data-root"):
        load_dataset("cifar100")


def test_imagefolder_streams_fixed_size_batches(tmp_path):
    from PIL import Image

    for part in ("train", "val"):
        for c, colour in enumerate([(255, 0, 0), (0, 0, 255)]):
            folder = tmp_path / part / f"class{c}"
            folder.mkdir(parents=True)
            for i in range(3):
                Image.new("RGB", (12 + i, 10), colour).save(folder / f"{i}.png")
    ds = load_dataset("imagefolder", root=tmp_path, size=8, workers=0)
    assert (ds.num_classes, ds.in_chans, ds.size, len(ds.train)) == (2, 3, 8, 6)
    batches = list(iterate(ds.train, 4, shuffle=True, seed=1, augment=Augment(2, True, 0)))
    assert [tuple(x.shape) for x, _ in batches] == [(4, 3, 8, 8), (2, 3, 8, 8)]
    x, y = next(iterate(ds.test, 6))
    assert y.tolist() == [0, 0, 0, 1, 1, 1]
    # red images: channel 0 at its maximum, channel 2 at zero, after normalisation
    assert torch.allclose(x[0, 0], torch.full((8, 8), (1 - 0.485) / 0.229))
    assert torch.allclose(x[3, 2], torch.full((8, 8), (1 - 0.406) / 0.225))
    with pytest.raises(DataError, match="not an ImageFolder tree"):
        load_dataset("imagefolder", root=tmp_path / "train")


# -- names and options ---------------------------------------------------------------------------


def test_unknown_dataset_and_option():
    with pytest.raises(DataError) as err:
        load_dataset("cifar_10")
    assert "did you mean 'cifar10'" in str(err.value)
    with pytest.raises(DataError, match="dataset synthetic takes no option colour"):
        load_dataset("synthetic", colour=True)
    assert issubclass(DataError, GenospecError)


# -- synthetic -----------------------------------------------------------------------------------


def test_synthetic_is_deterministic_and_balanced():
    a = load_dataset("synthetic", n_train=40, n_test=8, num_classes=4, in_chans=2, size=12, seed=3)
    b = load_dataset("synthetic", n_train=40, n_test=8, num_classes=4, in_chans=2, size=12, seed=3)
    c = load_dataset("synthetic", n_train=40, n_test=8, num_classes=4, in_chans=2, size=12, seed=4)
    assert (a.in_chans, a.size, a.num_classes, a.hflip) == (2, 12, 4, False)
    assert torch.equal(a.train.images, b.train.images) and torch.equal(a.test.labels, b.test.labels)
    assert not torch.equal(a.train.images, c.train.images)
    assert a.train.labels.bincount().tolist() == [10, 10, 10, 10]
    with pytest.raises(DataError):
        make_synthetic(num_classes=0)


# -- splits --------------------------------------------------------------------------------------


def _numbered(n: int) -> TensorSplit:
    """A split whose image i is filled with the value i (so images identify themselves)."""
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 4, 4).contiguous()
    return TensorSplit(images, torch.arange(n), (0.0,), (1.0 / 255,))


def test_split_by_fraction_is_seeded_and_disjoint():
    split = _numbered(100)
    a, b = split_train_val(split, fraction=0.5, seed=2)
    a2, _ = split_train_val(split, fraction=0.5, seed=2)
    a3, _ = split_train_val(split, fraction=0.5, seed=3)
    assert (len(a), len(b)) == (50, 50)
    assert sorted(a.labels.tolist() + b.labels.tolist()) == list(range(100))
    assert torch.equal(a.labels, a2.labels) and not torch.equal(a.labels, a3.labels)
    assert torch.equal(a.images[:, 0, 0, 0].long(), a.labels)  # images follow their labels


def test_fixed_size_subsets_edarts_style():
    split = _numbered(200)
    a, b = split_train_val(split, sizes=(25, 25), seed=0)
    assert (len(a), len(b)) == (25, 25)
    assert not set(a.labels.tolist()) & set(b.labels.tolist())
    with pytest.raises(DataError, match="cannot draw"):
        split_train_val(split, sizes=(150, 100))
    with pytest.raises(DataError, match="either"):
        split_train_val(split)
    with pytest.raises(DataError, match="strictly between"):
        split_train_val(split, fraction=1.0)
    assert len(subset(split, 30, seed=1)) == 30 and subset(split, 500) is split


# -- augmentation --------------------------------------------------------------------------------


def test_random_crop_matches_per_image_slicing():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(5, 2, 6, 7, generator=g)
    offsets = torch.tensor([[0, 0], [4, 4], [2, 2], [1, 3], [4, 0]])
    out = random_crop(x, 2, offsets)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for i, (oy, ox) in enumerate(offsets.tolist()):
        assert torch.equal(out[i], padded[i, :, oy:oy + 6, ox:ox + 7])
    assert torch.equal(out[2], x[2])  # offset == padding: the image itself


def test_flip_and_cutout():
    x = torch.arange(2 * 3 * 4, dtype=torch.float).view(2, 1, 3, 4)
    flipped = flip(x, torch.tensor([True, False]))
    assert torch.equal(flipped[0, 0, 0], torch.tensor([3.0, 2.0, 1.0, 0.0]))
    assert torch.equal(flipped[1], x[1])
    ones = torch.ones(3, 2, 32, 32)
    cut = cutout(ones, 16, torch.tensor([[16, 16], [0, 0], [31, 5]]))
    assert (cut[0] == 0).sum().item() == 2 * 16 * 16  # every channel, full square
    assert torch.equal(cut[0, :, 8:24, 8:24], torch.zeros(2, 16, 16))
    assert (cut[1] == 0).sum().item() == 2 * 8 * 8   # clipped at the corner
    assert (cut[2, 0] == 0).sum().item() == 9 * 13   # rows 23..31, columns 0..12


def test_apply_normalises_after_crop_and_cutout_after_normalising():
    images = torch.full((1, 1, 4, 4), 255, dtype=torch.uint8)
    aug = Augment(crop_padding=1, flip=False, cutout=2)
    draws = aug.draw(1, 4, 4, torch.Generator().manual_seed(0))
    draws = type(draws)(torch.tensor([[0, 0]]), None, torch.tensor([[3, 3]]))
    x = apply(images, aug, draws, (0.5,), (0.25,))
    # padded border is black: (0 - 0.5) / 0.25 = -2; image pixels (1 - 0.5) / 0.25 = 2;
    # cutout zeroes rows/cols 2..3 of the normalised image
    expected = torch.tensor([[-2.0, -2, -2, -2], [-2, 2, 2, 2], [-2, 2, 0, 0], [-2, 2, 0, 0]])
    assert torch.equal(x[0, 0], expected)


# -- iteration -----------------------------------------------------------------------------------


def _epoch(split, **kw):
    return [(x.clone(), y.clone()) for x, y in iterate(split, 8, **kw)]


def test_iterate_without_shuffle_gives_the_split_in_order():
    split = _numbered(20)
    batches = _epoch(split)
    assert [len(y) for _, y in batches] == [8, 8, 4] and num_batches(split, 8) == 3
    labels = torch.cat([y for _, y in batches])
    assert labels.tolist() == list(range(20))
    assert torch.equal(torch.cat([x for x, _ in batches])[:, 0, 0, 0], labels.float())


def test_iterate_is_a_function_of_seed_and_epoch():
    ds = load_dataset("synthetic", n_train=50, n_test=10, num_classes=5, size=8)
    aug = Augment(crop_padding=2, flip=True, cutout=4)
    kw = dict(shuffle=True, seed=5, augment=aug)
    first = _epoch(ds.train, epoch=3, **kw)
    again = _epoch(ds.train, epoch=3, **kw)
    other = _epoch(ds.train, epoch=4, **kw)
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(first, again))
    assert not torch.equal(first[0][1], other[0][1])
    tail = _epoch(ds.train, epoch=3, start=2, **kw)  # a resumed epoch skips its first batches
    assert len(tail) == len(first) - 2
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(first[2:], tail))


def test_cifar_errors_say_what_was_looked_for_where(tmp_path):
    """Issue 17: wrong directory, incomplete and damaged CIFAR in genospec's words (never
    torchvision's "You can use download=True")."""
    with pytest.raises(DataError) as e:
        load_dataset("cifar10", root=tmp_path)
    assert f"looked for {tmp_path / 'cifar-10-batches-py'}/" in str(e.value)
    assert "download=True" not in str(e.value)
    _fake_cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(DataError, match="incomplete: missing data_batch_3"):
        load_dataset("cifar10", root=tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    _fake_cifar10(other)  # every file, but not the official ones
    with pytest.raises(DataError) as e:
        load_dataset("cifar10", root=other)
    text = str(e.value)
    assert "failed the checksum" in text and "MD5" in text and "download=True" not in text
