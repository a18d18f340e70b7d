import keras


def test_progress_lines_report_the_median_step_time():
    """The s/step figure of `PlainProgress` ignores a pause and the first (tracing) step."""
    import io
    from types import SimpleNamespace

    from keras_stylize.training.callbacks import PlainProgress

    optimizer = SimpleNamespace(iterations=keras.Variable(0, dtype="int64"))
    now = [0.0]
    stream = io.StringIO()
    callback = PlainProgress(8, every=4, stream=stream, clock=lambda: now[0])
    callback.set_model(SimpleNamespace(optimizer=optimizer))
    callback.on_train_begin()
    for seconds in [40.0, 2.0, 3.0, 2.0, 2.0, 3600.0, 4.0, 4.0]:  # tracing; a pause
        now[0] += seconds
        optimizer.iterations.assign_add(1)
        callback.on_train_batch_end(0, {"loss": 1.5})
    lines = stream.getvalue().splitlines()
    assert lines == ["step 4/8  loss=1.5  2.50 s/step", "step 8/8  loss=1.5  4.00 s/step"]
