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

**Masks.** Two opposite conventions for bool masks meet here:

- The book and :func:`scaled_dot_product_attention` (like PyTorch's
  ``F.scaled_dot_product_attention``): a bool mask is True where a query **may attend**.
  :class:`AdditiveAttention` and :class:`MultiplicativeAttention` take the book's padding mask
  (B, Tk), True at **real** keys.
- :class:`MultiHeadAttention` (like PyTorch's ``nn.MultiheadAttention``): ``key_padding_mask`` is
  True at keys to **ignore**, and a bool ``attn_mask`` is True where attending is **not allowed**.
  That is the opposite of the first convention, for parity with ``nn.MultiheadAttention``;
  the module converts internally (``allowed = ~attn_mask``).
- Float masks mean the same everywhere: they are added to the scores (``-inf`` forbids).

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
from .masks import causal_mask, masked_softmax, padding_mask
from .multi_head import KVCache, MultiHeadAttention
from .scores import AdditiveAttention, MultiplicativeAttention

__all__ = ["causal_mask", "padding_mask", "masked_softmax", "scaled_dot_product_attention",
           "AdditiveAttention", "MultiplicativeAttention", "KVCache", "MultiHeadAttention"]
