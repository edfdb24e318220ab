"""A shared check for the language models' tests: the future never changes the past."""
import torch


def assert_causal(forward, ids: torch.Tensor, cut: int, vocab_size: int, atol: float = 1e-6):
    """Change every token from position ``cut`` on; the logits before ``cut`` must not move, the
    logits after it must.

    Args:
        forward: maps token ids (B, T) to logits (B, T, V).
        ids: token ids (B, T), all in 1 .. vocab_size - 1 (0 is padding).
    """
    changed = ids.clone()
    changed[:, cut:] = (changed[:, cut:] % (vocab_size - 1)) + 1  # another non-padding token
    before, after = forward(ids), forward(changed)
    assert torch.allclose(after[:, :cut], before[:, :cut], atol=atol), "a later token changed an earlier output"
    assert not torch.allclose(after[:, cut:], before[:, cut:]), "the changed tokens changed nothing"
