"""Every dataset: spec, loading, range; the real torchvision loaders on files written in their format."""

from __future__ import annotations

import pickle
import struct

import numpy as np
import pytest
import torch

from ganbench.config import load_config
from ganbench.data import DATASETS, DataSpec, ShuffledBatches
from ganbench.data.toy2d import Grid25, Ring8
from ganbench.errors import ConfigError, DataError

OFFLINE = ["ring8", "grid25", "digits", "stacked_digits", "fake"]
TORCHVISION = {"mnist", "fashion_mnist", "cifar10"}


FOLDERS = {"celeba", "image_folder"}


def test_every_dataset_is_covered_here():
    assert set(OFFLINE) | TORCHVISION | FOLDERS == set(DATASETS.names())


@pytest.mark.parametrize("name", OFFLINE)
def test_offline_datasets_load_to_their_spec(name):
    config = load_config(overrides=[f"data.name={name}", "data.size=1000"])
    dataset = DATASETS.get(name)(config)
    spec = dataset.spec(config)
    for split in dataset.splits:
        samples, labels = dataset.load(split)
        assert samples.dtype == torch.float32 and samples.shape[1:] == spec.shape
        assert labels is None or (labels.shape == (len(samples),) and int(labels.max()) < spec.num_classes)
        if spec.is_image:
            assert samples.min() >= -1 and samples.max() <= 1


def test_pacgan_mixtures_exactly():
    assert Ring8.std == 0.01 and Grid25.std == 0.05
    angles = np.arctan2(Ring8.means[:, 1], Ring8.means[:, 0]) % (2 * np.pi)
    np.testing.assert_allclose(np.sort(angles), 2 * np.pi * np.arange(8) / 8, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(Ring8.means, axis=1), 1.0)
    assert {tuple(m) for m in Grid25.means} == {(i, j) for i in (-4, -2, 0, 2, 4) for j in (-4, -2, 0, 2, 4)}
    config = load_config(overrides=["data.size=20000"])
    points, component = Ring8(config).load()
    offsets = points.double().numpy() - Ring8.means[component.numpy()]
    assert offsets.std() == pytest.approx(0.01, rel=0.03)
    assert np.bincount(component.numpy()).min() > 20000 / 8 * 0.9  # equal weights


def test_digits_are_sklearn_digits_scaled():
    config = load_config(overrides=["data.name=digits"])
    dataset = DATASETS.get("digits")(config)
    everything, labels = dataset.load("all")
    train, _ = dataset.load("train")
    test, _ = dataset.load("test")
    assert len(everything) == 1797 and len(train) + len(test) == 1797
    assert set(labels.tolist()) == set(range(10))
    assert float(everything.min()) == -1.0 and float(everything.max()) == 1.0


def write_idx(folder, prefix, images, labels):
    folder.mkdir(parents=True, exist_ok=True)
    n, rows, cols = images.shape
    (folder / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 0x803, n, rows, cols) + images.tobytes())
    (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 0x801, n) + labels.tobytes())


@pytest.mark.parametrize(("name", "folder"), [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")])
def test_torchvision_mnist_reads_idx_files(tmp_path, name, folder):
    rng = np.random.default_rng(0)
    raw = tmp_path / folder / "raw"
    for prefix, n in (("train", 12), ("t10k", 5)):
        write_idx(raw, prefix, rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
                  rng.integers(0, 10, n, dtype=np.uint8))
    config = load_config(overrides=[f"data.name={name}", f"data.root={tmp_path}"])
    dataset = DATASETS.get(name)(config)
    dataset.check_available()
    samples, labels = dataset.load("train")
    assert samples.shape == (12, 1, 28, 28) and labels.shape == (12,)
    assert samples.min() >= -1 and samples.max() <= 1
    assert len(dataset.load("test")[0]) == 5


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_missing_files_are_named_with_their_folder(tmp_path, name):
    config = load_config(overrides=[f"data.name={name}", f"data.root={tmp_path}"])
    with pytest.raises(DataError) as error:
        DATASETS.get(name)(config).check_available()
    message = str(error.value)
    dataset = DATASETS.get(name)(config)
    assert str(dataset.folder_path) in message and dataset.required[0] in message and "\n" not in message


def test_torchvision_cifar10_reads_its_pickles(tmp_path, monkeypatch):
    import torchvision.datasets.cifar as cifar

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {"data": rng.integers(0, 256, (3, 3072), dtype=np.uint8), "labels": [1, 2, 3]}
        (folder / name).write_bytes(pickle.dumps(batch))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": [str(i) for i in range(10)]}))
    # torchvision checks the MD5 sums of the real archive's files; ours are written by this test.
    monkeypatch.setattr(cifar.CIFAR10, "_check_integrity", lambda self: True)
    monkeypatch.setattr(cifar, "check_integrity", lambda path, md5=None: True)
    config = load_config(overrides=["data.name=cifar10", f"data.root={tmp_path}"])
    samples, labels = DATASETS.get("cifar10")(config).load("train")
    assert samples.shape == (15, 3, 32, 32) and labels.tolist() == [1, 2, 3] * 5
    assert samples.min() >= -1 and samples.max() <= 1


def test_unreadable_files_give_a_data_error(tmp_path):
    raw = tmp_path / "cifar-10-batches-py"
    raw.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]:
        (raw / name).write_bytes(b"not a pickle")
    config = load_config(overrides=["data.name=cifar10", f"data.root={tmp_path}"])
    with pytest.raises(DataError, match="cannot read"):
        DATASETS.get("cifar10")(config).load("train")


def test_shuffled_batches_cover_each_epoch_and_resume_exactly():
    samples = torch.arange(10.0).unsqueeze(1)
    batches = ShuffledBatches(samples, None, batch_size=5, seed=0)
    epoch = torch.cat([batches.next()[0] for _ in range(2)]).flatten()
    assert sorted(epoch.tolist()) == list(range(10))
    state = {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in batches.state_dict().items()}
    expected = [batches.next()[0] for _ in range(5)]
    resumed = ShuffledBatches(samples, None, batch_size=5, seed=123)
    resumed.load_state_dict(state)
    assert all(torch.equal(a, resumed.next()[0]) for a in expected)


def test_batch_larger_than_dataset_is_refused():
    with pytest.raises(ValueError, match="exceeds"):
        ShuffledBatches(torch.zeros(3, 2), None, batch_size=4, seed=0)


def write_images(folder, count, size=(20, 12), seed=0):
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for index in range(count):
        Image.fromarray(rng.integers(0, 256, (*size[::-1], 3), dtype=np.uint8)).save(folder / f"{index:03d}.png")


def test_image_folder_with_class_subfolders(tmp_path):
    write_images(tmp_path / "cats", 12)
    write_images(tmp_path / "dogs", 8, size=(9, 30))
    (tmp_path / "notes.txt").write_text("not an image")
    config = load_config(overrides=["data.name=image_folder", f"data.folder={tmp_path}", "data.image_size=8",
                                    "data.conditional=true"])
    dataset = DATASETS.get("image_folder")(config)
    assert dataset.spec(config) == DataSpec((3, 8, 8), num_classes=2)
    train, train_labels = dataset.load("train")
    test, test_labels = dataset.load("test")
    assert train.shape == (18, 3, 8, 8) and test.shape == (2, 3, 8, 8)  # every 10th image is held out
    assert train.dtype == torch.float32 and train.min() >= -1 and train.max() <= 1
    assert train_labels.tolist() == [0] * 11 + [1] * 7 and test_labels.tolist() == [0, 1]
    limited = DATASETS.get("image_folder")(load_config(overrides=[
        "data.name=image_folder", f"data.folder={tmp_path}", "data.image_size=8", "data.limit=5"]))
    assert len(limited.load("train")[0]) == 5


def test_image_folder_without_subfolders_is_unlabelled(tmp_path):
    write_images(tmp_path, 4)
    config = load_config(overrides=["data.name=image_folder", f"data.folder={tmp_path}", "data.image_size=32"])
    samples, labels = DATASETS.get("image_folder")(config).load("train")
    assert samples.shape == (4, 3, 32, 32) and labels is None
    with pytest.raises(ConfigError, match="^data.conditional: data.name=image_folder has no class labels"):
        load_config(overrides=["data.name=image_folder", f"data.folder={tmp_path}", "data.conditional=true"])


@pytest.mark.parametrize(("folder", "message"), [("", "set data.folder"), ("missing", "no such folder"),
                                                 ("empty", "no images")])
def test_image_folder_errors_name_the_folder(tmp_path, folder, message):
    (tmp_path / "empty").mkdir()
    path = str(tmp_path / folder) if folder else ""
    config = load_config(overrides=["data.name=image_folder", f"data.folder={path}"])
    with pytest.raises(DataError, match=message) as error:
        DATASETS.get("image_folder")(config).load("train")
    assert "\n" not in str(error.value) and (not folder or str(tmp_path / folder) in str(error.value))


def test_celeba_missing_files_are_named_with_their_folder(tmp_path):
    config = load_config(overrides=["data.name=celeba", f"data.root={tmp_path}"])
    with pytest.raises(DataError, match=r"^data.name=celeba: missing list_eval_partition.txt, .* in .*celeba;"):
        DATASETS.get("celeba")(config).load("train")


def test_celeba_reads_torchvision_layout(tmp_path, monkeypatch):
    import torchvision.datasets.celeba as celeba

    folder = tmp_path / "celeba"
    write_images(folder / "img_align_celeba", 5, size=(178, 218))
    names = [f"{i:03d}.png" for i in range(5)]
    (folder / "list_eval_partition.txt").write_text("".join(f"{n} {0 if i < 3 else 2}\n" for i, n in enumerate(names)))
    (folder / "identity_CelebA.txt").write_text("".join(f"{n} 1\n" for n in names))
    (folder / "list_bbox_celeba.txt").write_text("5\nimage_id x_1 y_1 width height\n"
                                                 + "".join(f"{n} 0 0 1 1\n" for n in names))
    (folder / "list_landmarks_align_celeba.txt").write_text("5\nlefteye_x lefteye_y\n"
                                                            + "".join(f"{n} 1 1\n" for n in names))
    (folder / "list_attr_celeba.txt").write_text("5\nSmiling Young\n" + "".join(f"{n} 1 -1\n" for n in names))
    monkeypatch.setattr(celeba.CelebA, "_check_integrity", lambda self: True)  # our files are not the archive's
    config = load_config(overrides=["data.name=celeba", f"data.root={tmp_path}"])
    dataset = DATASETS.get("celeba")(config)
    samples, labels = dataset.load("train")
    assert samples.shape == (3, 3, 64, 64) and labels is None and samples.min() >= -1 and samples.max() <= 1
    assert len(dataset.load("test")[0]) == 2
