"""The ablation arm: texture discriminators learn a feed's grain against plain content photos."""
import torch
from test_finish_estimate import jpeg_feed, scene

from influgan import Finish
from influgan.learning.finish_estimate import read_texture
from influgan.learning.texture_adversary import FinishAdversary


def adversary_for(finish: Finish) -> FinishAdversary:
    references = [read_texture(image) for image in jpeg_feed(finish, count=6)]
    content = [read_texture(scene(index + 20)) for index in range(4)]
    return FinishAdversary(references, content, torch.Generator().manual_seed(0))


def test_the_grain_grows_toward_a_grainy_feed_and_the_finish_stays_in_range():
    adversary = adversary_for(Finish(grain_amount=6.0, grain_size=0.004))
    start = adversary.finish().grain_amount
    for _ in range(40):
        losses = adversary.step()
    learned = adversary.finish()  # a Finish validates its ranges
    assert set(losses) == {"texture_discriminator", "texture_generator"}
    assert learned.grain_amount > start + 1.0
