"""The durability order as one unit, without a drive: the image's fdatasync returns before the
record commits the map that calls its sectors finished; a failed fdatasync commits nothing."""
import threading

import pytest

from acquire.imaging.checkpoint import CHECKPOINT_BYTES, Checkpointer
from acquire.record import Record


class Image:
    """Stands in for IsoWriter's flush/datasync/sync: logs each call; its fdatasync can be held (a slow
    disk) or fail (EIO)."""

    def __init__(self, log):
        self.log, self.gate, self.fail = log, threading.Event(), False
        self.gate.set()

    def flush(self):
        self.log.append(f"flush in {threading.current_thread().name}")

    def datasync(self):
        self.gate.wait(10)
        if self.fail:
            raise OSError(5, "Input/output error")
        self.log.append(f"fdatasync in {'main' if threading.current_thread() is threading.main_thread() else 'worker'}")

    def sync(self):
        self.flush()
        self.datasync()


@pytest.fixture
def record(tmp_path):
    rec = Record.create(tmp_path / "r.sqlite", tool_version="test")
    yield rec
    rec.close()


def committed_map(record):
    return record.load_map()


def test_a_checkpoint_fdatasyncs_then_commits_the_map_and_the_staged_rows(record):
    log = []
    runs = [(0, 100, 4), (100, 900, 0)]
    cp = Checkpointer(Image(log), record, lambda: runs, before_snapshot=lambda: log.append("snapshot"))
    original = record.commit
    record.commit = lambda: (log.append("commit"), original())
    run = record.begin_run(command="test", device="none")
    drive = record.add_drive(device="none", vendor="V", product="P", revision="1", serial=None, inquiry_hex="",
                             features=[])
    record.add_damage(run_id=run, drive_id=drive, lba=5, count=1, phase="copy", pass_no=1, outcome="failed",
                      sense="03/11/00", sense_name="x", duration_s=0.1, reason="r")
    cp.checkpoint()
    assert log == ["flush in MainThread", "fdatasync in main", "snapshot", "commit"]
    assert committed_map(record) == runs
    assert record.db.conn.execute("SELECT count(*) FROM damage").fetchone()[0] == 1
    cp.shutdown()


def test_a_background_sync_commits_its_snapshot_only_after_the_fdatasync_returned(record):
    log = []
    image = Image(log)
    runs = [(0, 10, 4), (10, 90, 0)]
    cp = Checkpointer(image, record, lambda: list(runs))
    image.gate.clear()                       # the disk is slow: the fdatasync does not return yet
    cp.wrote(CHECKPOINT_BYTES)
    cp.tick()                                # due: snapshot taken, fdatasync started in the background
    assert cp.syncing is not None and committed_map(record) == []
    runs[:] = [(0, 50, 4), (50, 50, 0)]      # the copy goes on meanwhile
    cp.tick()                                # still syncing: nothing committed, no second sync
    assert committed_map(record) == []
    image.gate.set()
    cp.syncing[0].result(10)
    cp.tick()                                # done: the snapshot of that moment is committed
    assert committed_map(record) == [(0, 10, 4), (10, 90, 0)]
    cp.checkpoint()                          # and a full checkpoint brings the map up to now
    assert committed_map(record) == [(0, 50, 4), (50, 50, 0)]
    # the background checkpoint hands the gathered bytes to the kernel on the copy's thread, before its
    # snapshot, and only the fdatasync runs in the worker
    assert log == ["flush in MainThread", "fdatasync in worker", "flush in MainThread", "fdatasync in main"]
    cp.shutdown()


def test_a_failed_fdatasync_commits_nothing(record):
    image = Image([])
    cp = Checkpointer(image, record, lambda: [(0, 100, 4)])
    image.fail = True
    with pytest.raises(OSError):
        cp.checkpoint()
    assert committed_map(record) == []
    cp.wrote(CHECKPOINT_BYTES)
    cp.tick()
    cp.syncing[0].exception(10)
    with pytest.raises(OSError):
        cp.tick()                            # the background failure surfaces; its batch is not committed
    assert committed_map(record) == []
    cp.shutdown()
