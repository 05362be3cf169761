"""Reading a feed's references once (influgan/references.py): the sizes each consumer needs, nothing full-size held."""
import pytest
from PIL import Image

from conftest import synthetic_photo
from influgan import ImageError
from influgan.learning.finish_estimate import TEXTURE_SIDE, read_texture
from influgan.learning.prior import READ_SIZE
from influgan.learning.references import LEARN_SIZE, read_reference, read_references


def test_a_reading_holds_the_learning_size_and_the_texture_only(tmp_path):
    path = tmp_path / "big.jpg"
    synthetic_photo(1, (3000, 2000)).save(path, quality=85)
    reading = read_reference(path, display_size=1024)
    assert reading.name == "big.jpg" and max(reading.image.size) == LEARN_SIZE and max(reading.display.size) == 1024
    assert reading.texture.short_side == round(2000 * TEXTURE_SIDE / 3000)  # read at TEXTURE_SIDE, not full size
    held = reading.image.width * reading.image.height * 3 + reading.texture.tiles.nbytes
    assert held < 400_000  # 50 references: about 20 MB, not 50 full-size copies
    assert LEARN_SIZE >= READ_SIZE  # the prior reads references at READ_SIZE


def test_a_reading_matches_the_texture_read_on_its_own(tmp_path):
    path = tmp_path / "post.jpg"
    synthetic_photo(2, (1080, 720)).save(path, quality=80)
    reading, alone = read_reference(path), read_texture(path)
    assert reading.texture.qtable == alone.qtable is not None  # the JPEG's own tables, read at its own size
    assert (reading.texture.tiles == alone.tiles).all() and reading.texture.short_side == 720


def test_unusable_references_are_listed_and_skipped(tmp_path):
    good, tiny, broken = tmp_path / "good.png", tmp_path / "tiny.png", tmp_path / "broken.jpg"
    synthetic_photo(3, (200, 150)).save(good)
    synthetic_photo(4, (16, 12)).save(tiny)
    broken.write_bytes(b"not a photo")
    read = read_references([good, tiny, broken, Image.new("RGB", (2000, 40))])
    assert [r.name for r in read.readings] == ["good.png"]
    assert len(read.problems) == 3 and "tiny.png: 16×12 px is too small" in read.problems[0] and "photo 4" in read.problems[2]
    with pytest.raises(ImageError, match="broken.jpg"):
        read_reference(broken)


def test_reading_references_never_imports_torch(tmp_path):
    """The app reads each reference on upload: that must not load torch into the web server."""
    import subprocess
    import sys
    from pathlib import Path

    path = tmp_path / "post.jpg"
    synthetic_photo(5, (400, 300)).save(path)
    code = f"import sys; from influgan.learning.references import read_reference; read_reference({str(path)!r}); print('torch' in sys.modules)"
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=120)
    assert result.stdout.strip() == "False", result.stderr
