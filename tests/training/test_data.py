import numpy as np
import pytest

from keras_stylize.training.data import (
    DataError,
    content_dataset,
    load_style_image,
    scan_content_folder,
    with_style_weights,
)

from ..conftest import write_image


def test_dataset_yields_batches_in_pixel_range(content_dir):
    dataset, report = content_dataset(content_dir, image_size=32, batch_size=3, seed=1)
    assert len(report.files) == 6 and not report.skipped
    batch = next(iter(dataset))
    assert batch.shape == (3, 32, 32, 3) and batch.dtype == "float32"
    values = np.asarray(batch)
    assert 0.0 <= values.min() and values.max() <= 255.0 and values.std() > 10


def test_seeded_order_is_the_same_in_every_iterator_and_epoch_orders_differ(content_dir):
    """Multi-worker training relies on this: each worker builds the dataset anew and must
    see the same crops, also after the first pass over the files (6 files, 4 passes)."""
    dataset, _ = content_dataset(content_dir, image_size=32, batch_size=3, seed=5)
    first = np.stack([b.numpy() for b in dataset.take(8)])
    next(iter(dataset))  # another iterator in between must not change the next one
    again = np.stack([b.numpy() for b in dataset.take(8)])
    rebuilt, _ = content_dataset(content_dir, image_size=32, batch_size=3, seed=5)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(first, np.stack([b.numpy() for b in rebuilt.take(8)]))
    # every pass is a permutation of the files, not the same one each time
    means = first.reshape(4, 6, -1).mean(axis=2)  # four passes of six crops
    assert not all(np.allclose(means[0], m) for m in means[1:])
    other, _ = content_dataset(content_dir, image_size=32, batch_size=3, seed=6)
    assert not np.array_equal(first[0], next(iter(other)).numpy())


def test_a_resumed_run_goes_on_with_the_batches_it_would_have_seen_next(content_dir):
    """`start_batch=5` starts where an uninterrupted run is after 5 batches (here in the
    third pass over the 6 files), images and style draws alike; not at the beginning."""
    dataset, _ = content_dataset(content_dir, image_size=32, batch_size=3, seed=2)
    whole = list(with_style_weights(dataset, 4, seed=2).take(8))
    resumed, _ = content_dataset(content_dir, image_size=32, batch_size=3, seed=2, start_batch=5)
    later = list(with_style_weights(resumed, 4, seed=2, start_batch=5).take(3))
    for got, expected in zip(later, whole[5:], strict=True):
        np.testing.assert_array_equal(got[0].numpy(), expected[0].numpy())  # images
        np.testing.assert_array_equal(got[1].numpy(), expected[1].numpy())  # style weights
    assert not np.array_equal(later[0][0].numpy(), whole[0][0].numpy())
    with pytest.raises(ValueError, match="start_batch"):
        content_dataset(content_dir, image_size=32, batch_size=3, seed=2, start_batch=-1)


def test_style_shares_set_how_often_each_style_is_drawn(content_dir):
    """Shares 0 : 3 : 1 draw the first style never and the second three times as often as
    the third (1600 draws: the standard error of a frequency is about 1 %); equal shares
    draw exactly what runs without shares drew."""
    dataset, _ = content_dataset(content_dir, image_size=32, batch_size=4, seed=3)
    weights = np.concatenate(
        [w.numpy() for _, w in with_style_weights(dataset, 3, seed=3, shares=[0, 3, 1]).take(400)]
    )
    assert weights.shape == (1600, 3) and set(weights.sum(axis=1)) == {1.0}
    frequency = weights.mean(axis=0)
    assert frequency[0] == 0 and abs(frequency[1] - 0.75) < 0.04, frequency
    plain = [w.numpy() for _, w in with_style_weights(dataset, 3, seed=3).take(20)]
    equal = [w.numpy() for _, w in with_style_weights(dataset, 3, seed=3, shares=[2] * 3).take(20)]
    np.testing.assert_array_equal(np.concatenate(plain), np.concatenate(equal))
    counts = np.concatenate(plain).sum(axis=0)
    assert counts.min() > 10, counts  # the plain draw uses all three styles
    for bad in ([1, 2], [1, -1, 1], [0, 0, 0]):
        with pytest.raises(ValueError, match="shares"):
            with_style_weights(dataset, 3, shares=bad)


def test_corrupt_and_empty_files_are_skipped_and_counted(content_dir):
    (content_dir / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    (content_dir / "empty.png").write_bytes(b"")
    (content_dir / "notes.txt").write_text("not an image, not listed")
    good = (content_dir / "img0.jpg").read_bytes()
    (content_dir / "truncated.jpg").write_bytes(good[: len(good) // 3])
    dataset, report = content_dataset(content_dir, image_size=32, batch_size=2, seed=0)
    assert {"broken.jpg", "empty.png"} <= {p.rsplit("/", 1)[-1] for p in report.skipped}
    for batch in dataset.take(12):  # several passes over the files: no crash
        assert batch.shape == (2, 32, 32, 3)
    assert "skipped" in report.summary()


def test_empty_folder_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no image files"):
        scan_content_folder(tmp_path / "empty")
    with pytest.raises(DataError, match="not found"):
        scan_content_folder(tmp_path / "missing")


def test_folder_without_readable_image_is_a_clear_error(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"garbage")
    (folder / "b.png").write_bytes(b"")
    with pytest.raises(DataError, match="none of the 2"):
        scan_content_folder(folder)


def test_style_image_resized_by_shorter_side(tmp_path):
    path = write_image(tmp_path / "s.png", size=(120, 60))
    style = load_style_image(path, style_size=30)
    assert style.shape == (1, 30, 60, 3) and style.dtype == np.float32


def test_flat_crops_are_redrawn_and_flat_files_skipped(tmp_path):
    # A constant crop makes every instance-normalized activation zero-variance and the
    # gradients overflow (see keras_stylize.training.data); the pipeline must never yield one.
    from PIL import Image

    from keras_stylize.training.data import is_flat

    folder = tmp_path / "content"
    folder.mkdir()
    rng = np.random.default_rng(0)
    sky = np.full((64, 160, 3), 255, np.uint8)
    sky[:, 128:] = rng.integers(0, 256, (64, 32, 3))  # most crops of this photo are white
    Image.fromarray(sky).save(folder / "sky.png")
    Image.fromarray(np.full((64, 64, 3), 40, np.uint8)).save(folder / "wall.png")
    dataset, report = content_dataset(folder, image_size=32, batch_size=4, seed=0)
    for batch in dataset.take(10):
        assert not any(is_flat(image) for image in np.asarray(batch))
    assert "flat" in report.skipped[str(folder / "wall.png")]
    assert str(folder / "sky.png") not in report.skipped


def test_is_flat_threshold():
    from keras_stylize.training.data import is_flat

    flat = np.full((8, 8, 3), 200.0)
    assert is_flat(flat)
    detail = flat.copy()
    detail[::2, :, 1] = 210.0  # std 5 in one channel is detail
    assert not is_flat(detail)


def test_only_flat_images_is_a_clear_error_before_training(tmp_path):
    from PIL import Image

    folder = tmp_path / "content"
    folder.mkdir()
    for i, value in enumerate((0, 128, 255)):
        Image.fromarray(np.full((48, 48, 3), value, np.uint8)).save(folder / f"blank{i}.png")
    with pytest.raises(DataError, match="none of the 3 image files .* is usable"):
        content_dataset(folder, image_size=32, batch_size=2, seed=0)
