import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from conftest import synthetic_photo
from influgan import FinetuneSettings, finetune
from influgan.images import image_to_tensor, thumbnail
from influgan.learning.lut_torch import identity_lut, resample_lut
from influgan.learning import prior as prior_module
from influgan.training.pretrain import LOOK_SIZE, prediction_error, sample_look, sample_tasks, train
from influgan.learning.prior import FEATURE_PIXELS, FEATURES, LookPrior, PhotoBank, crop_pixels, load_prior, pixel_features
from influgan.weights import weights_path


def read(photos) -> torch.Tensor:
    """One crop of each photo, as the prior reads it: (M, FEATURE_PIXELS, 3)."""
    return crop_pixels(PhotoBank([image_to_tensor(p) for p in photos]), torch.arange(len(photos)), FEATURE_PIXELS, torch.Generator().manual_seed(0))


def input_dependent_prior() -> LookPrior:
    """A small untrained prior whose look depends on the references."""
    torch.manual_seed(0)
    prior = LookPrior(basis=8, hidden=32, control=5).eval()
    prior.head[-1].weight.data.normal_(0, 1)
    return prior


def test_pixel_features_shape_and_finite():
    features = pixel_features(torch.rand(5, FEATURE_PIXELS, 3))
    assert features.shape == (5, FEATURES) and torch.isfinite(features).all()


def test_features_tell_a_warm_feed_from_a_cool_one():
    pixels = torch.rand(1, FEATURE_PIXELS, 3)
    warm = pixels * torch.tensor([1.0, 0.9, 0.6])
    cool = pixels * torch.tensor([0.6, 0.9, 1.0])
    assert (pixel_features(warm) - pixel_features(cool)).abs().max() > 0.1


def test_prediction_ignores_order_and_repetition(photos):
    prior = input_dependent_prior()
    features = pixel_features(read(photos[:4]))
    one_set = torch.zeros(4, dtype=torch.long)
    base = prior(features, one_set)
    shuffled = prior(features[[2, 0, 3, 1]], one_set)
    doubled = prior(torch.cat([features, features]), torch.zeros(8, dtype=torch.long))
    assert not torch.allclose(base, identity_lut(5), atol=1e-3)
    assert torch.allclose(base, shuffled, atol=1e-5) and torch.allclose(base, doubled, atol=1e-4)


def test_two_sets_in_one_batch_match_separate_calls(photos):
    prior = input_dependent_prior()
    features = pixel_features(read(photos[:6]))
    together = prior(features, torch.tensor([0, 0, 0, 1, 1, 1]))
    assert torch.allclose(together[1], prior(features[3:], torch.zeros(3, dtype=torch.long))[0], atol=1e-5)


def test_predict_gives_a_valid_look_from_images_or_tensors(photos):
    prior = LookPrior(basis=8, hidden=32, control=9).eval()
    look = prior.predict(photos[:3])
    assert look.lut.shape == (33, 33, 33, 3) and 0.0 <= float(look.lut.min()) and float(look.lut.max()) <= 1.0
    from_tensors = prior.predict([image_to_tensor(p) for p in photos[:3]])
    assert from_tensors.lut.shape == (33, 33, 33, 3)
    with pytest.raises(ValueError):
        prior.predict([])


def test_predict_reads_each_photo_the_same_wherever_it_sits_in_the_set(photos):
    prior = input_dependent_prior()
    look = torch.from_numpy(prior.predict(photos[:5]).lut)
    assert torch.allclose(torch.from_numpy(prior.predict(photos[:5][::-1]).lut), look, atol=1e-5)
    assert torch.equal(torch.from_numpy(prior.predict(photos[:5]).lut), look)  # seeded
    other_crops = torch.from_numpy(prior.predict(photos[:5], seed=1).lut)
    assert 0.0 < float((other_crops - look).abs().max()) < 0.1 * float((look - identity_lut(33)).abs().max())


def test_predict_averages_many_draws_so_the_look_hardly_depends_on_the_crops(photos, monkeypatch):
    prior = input_dependent_prior()

    def spread() -> float:  # how far the looks of four seeds lie from their mean
        looks = torch.stack([torch.from_numpy(prior.predict(photos[:4], seed=seed).lut) for seed in range(4)])
        return float((looks - looks.mean(0)).abs().mean())

    averaged = spread()
    monkeypatch.setattr(prior_module, "READ_CROPS", 1)
    monkeypatch.setattr(prior_module, "READ_MIN_DRAWS", 1)
    assert averaged < 0.4 * spread()  # one draw of crops


def test_predict_reads_photos_of_any_size_at_the_size_the_prior_trained_on(photos):
    prior = input_dependent_prior()
    large = [p.resize((p.width * 12, p.height * 12), Image.Resampling.BICUBIC) for p in photos[:3]]  # 1152×768
    look = torch.from_numpy(prior.predict(large).lut)
    assert torch.equal(torch.from_numpy(prior.predict([thumbnail(p, prior_module.READ_SIZE) for p in large]).lut), look)
    from_tensors = torch.from_numpy(prior.predict([image_to_tensor(p) for p in large]).lut)  # reduced by torch, not Pillow
    assert (from_tensors - look).abs().mean() < 0.05 * (look - identity_lut(33)).abs().mean()


def test_save_load_round_trip_and_refusals(tmp_path, photos):
    prior = LookPrior(basis=8, hidden=32, control=9).eval()
    torch.nn.init.normal_(prior.basis, std=0.05)  # a prior whose looks are far from identity
    path = tmp_path / "prior.safetensors"
    prior.save(path, {"steps": 1})
    loaded = LookPrior.load(path)
    look, reloaded = torch.from_numpy(prior.predict(photos[:3]).lut), torch.from_numpy(loaded.predict(photos[:3]).lut)
    assert (look - identity_lut(33)).abs().max() > 0.05
    assert torch.allclose(reloaded, look, atol=2e-3)  # the file stores float16
    other = tmp_path / "other.safetensors"
    save_file({"histogram": torch.zeros(4, 4, 4)}, str(other), metadata={"config": '{"features": %d}' % FEATURES})
    with pytest.raises(ValueError, match="not a look prior"):
        LookPrior.load(other)
    stale = tmp_path / "stale.safetensors"
    save_file({"x": torch.zeros(1)}, str(stale), metadata={"config": '{"features": 3}'})
    with pytest.raises(ValueError, match="another feature set"):
        LookPrior.load(stale)
    assert load_prior(tmp_path / "missing.safetensors") is None


def test_short_training_learns_to_predict_looks():
    photos = [image_to_tensor(synthetic_photo(seed, (64, 48))) for seed in range(12)]
    generator = torch.Generator().manual_seed(5)
    looks = torch.stack([resample_lut(sample_look(generator, [], 0.0), LOOK_SIZE) for _ in range(12)])
    tasks = sample_tasks(PhotoBank(photos), looks, generator, max_references=6)

    def error(prior):
        with torch.no_grad():
            return float(prediction_error(prior(pixel_features(tasks.references), tasks.sets), tasks.colours, tasks.truth).mean())

    untrained = error(LookPrior().eval())
    trained = error(train(photos, [], steps=100, tasks_per_step=8, lr=4e-3, log_every=1000))
    assert trained < 0.8 * untrained


def test_finetune_starts_from_the_prior_and_stays_near_it(photos):
    prior = LookPrior(basis=8, hidden=32, control=9).eval()
    prior.head[-1].bias.data[:] = 0.0
    prior.basis.data[0, ..., 0] = -0.3  # a look with much less red, whatever the references
    prior.head[-1].bias.data[0] = 1.0
    references = photos[:4]
    instant = prior.predict(references)
    settings = FinetuneSettings(steps=5, thumb_size=64, colour_samples=512, adversary="none", anchor_weight=1000.0, adaptive_anchor=False)
    look = finetune(references, photos[4:], settings, prior=prior)
    assert look.metadata["started_from"] == "prior"
    assert (torch.from_numpy(look.lut) - torch.from_numpy(instant.lut)).abs().mean() < 0.01
    identity_start = finetune(references, photos[4:], FinetuneSettings(**{**settings.__dict__, "start_from": "identity"}), prior=prior)
    assert identity_start.metadata["started_from"] == "identity"
    assert (torch.from_numpy(identity_start.lut) - identity_lut()).abs().mean() < 0.5 * (torch.from_numpy(instant.lut) - identity_lut()).abs().mean()


def test_finetune_starts_from_the_instant_look_of_the_same_references(photos):
    prior = input_dependent_prior()
    references = [p.resize((p.width * 3, p.height * 3)) for p in photos[:4]]
    still = FinetuneSettings(steps=1, thumb_size=64, colour_samples=256, generator_lr=1e-9, adaptive_anchor=False)
    look = finetune(references, photos[4:], still, prior=prior)
    assert torch.allclose(torch.from_numpy(look.lut), torch.from_numpy(prior.predict(references).lut), atol=1e-5)


def test_weights_come_from_the_hub_repo_when_one_is_set(monkeypatch, tmp_path):
    assert weights_path("prior.safetensors").parent.name == "weights"
    calls = []

    def fake_download(repo_id, filename, revision=None):
        calls.append((repo_id, filename, revision))
        return str(tmp_path / filename)

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    monkeypatch.setenv("INFLUGAN_WEIGHTS_REPO", "someone/influgan-weights")
    assert weights_path("prior.safetensors") == tmp_path / "prior.safetensors"
    assert calls == [("someone/influgan-weights", "prior.safetensors", None)]
