"""Attention from scratch: scaled dot products, Bahdanau's and Luong's scores, multi-head attention.

Every kind of attention here does the same three things. It scores each query against each
key, turns a query's scores into weights with a softmax over the keys it may see, and returns
the weighted average of the values::

    scores  = score(q_i, k_j)                      (B, Tq, Tk)
    weights = softmax_j(scores + mask)             each row sums to 1 over the allowed keys
    output  = weights @ V                          (B, Tq, Dv)

:func:`scaled_dot_product_attention` scores with ``q . k / sqrt(d_k)`` (Vaswani et al. 2017);
:class:`AdditiveAttention` (Bahdanau et al. 2015) and :class:`MultiplicativeAttention` (Luong
et al. 2015) are the two scores of the sequence-to-sequence models; :class:`MultiHeadAttention`
runs h scaled dot-product attentions side by side on learned projections, and carries a
:class:`KVCache` for decoding one token at a time.

**Masks.** Every bool mask in seqlib means one thing: True where a query **may attend**.

- An attention mask (Tq, Tk), such as :func:`causal_mask`, is True where query t may attend to
  key s; :func:`scaled_dot_product_attention` takes it as ``mask``, as PyTorch's
  ``F.scaled_dot_product_attention`` takes it as ``attn_mask``.
- A key mask (B, Tk), such as :func:`padding_mask`, is True at the **real** keys, False at
  padding: the ``mask`` of :class:`AdditiveAttention` and :class:`MultiplicativeAttention`, the
  ``key_mask`` of :class:`MultiHeadAttention` and of the Transformer's layers.
- Float masks are added to the scores (``-inf`` forbids).

PyTorch's ``nn.MultiheadAttention`` and ``nn.Transformer*`` layers use the opposite bool
convention (``key_padding_mask`` True at keys to **ignore**, ``attn_mask`` True where attending
is **not allowed**). seqlib's modules give their masks other names, so that code written for
PyTorch fails loudly here instead of silently attending to the wrong keys: passing
``key_padding_mask`` or ``attn_mask`` raises a TypeError that says to pass
``key_mask=~key_padding_mask`` or ``mask=~attn_mask``. :func:`from_torch_masks` does both
conversions, for comparing a seqlib module with PyTorch's on the same masks.

**A query whose keys are all masked** (a padded query under a causal and a padding mask, say)
gets zero weights and a zero output here, never NaN. A plain ``torch.softmax`` over a row of
-inf gives NaN (0/0), and so does ``nn.MultiheadAttention`` when it returns its weights (its
default, ``need_weights=True``); NaN then spreads through the whole network. PyTorch's
``F.scaled_dot_product_attention`` gave NaN too until PyTorch 2.5, which made it return zeros,
as here.

These modules are written to be read and verified, not to be fast; the tests check them against
``F.scaled_dot_product_attention`` and ``nn.MultiheadAttention`` (:meth:`MultiHeadAttention.from_torch`
copies the latter's weights).
"""

# The package's files: masks.py (masks and the masked softmax), dot_product.py (scaled dot-product
# attention), scores.py (Bahdanau's and Luong's scores), multi_head.py (multi-head attention and
# its cache). Everything public is imported here and keeps its name in seqlib.attention.
from .dot_product import scaled_dot_product_attention
from .masks import causal_mask, from_torch_masks, masked_softmax, padding_mask
from .multi_head import KVCache, MultiHeadAttention
from .scores import AdditiveAttention, MultiplicativeAttention

__all__ = ["causal_mask", "padding_mask", "masked_softmax", "from_torch_masks", "scaled_dot_product_attention",
           "AdditiveAttention", "MultiplicativeAttention", "KVCache", "MultiHeadAttention"]
