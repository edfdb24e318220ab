"""The book's data: tasks, vocabularies, padding and masks, the text corpus, a real series."""
from .batch import SeqData, batches, check_mask, lengths_to_mask, masked_mean, pad
from .corpus import char_windows, corpus_vocab, load_corpus
from .series import SERIES, load_series, make_windows
from .tasks import (IGNORE, adding_problem, associative_recall, copy_task, count_clauses, delayed_recall, key_token_task,
                    lag_task, majority_task, parity_task, reverse_sources, reverse_task, selective_copy, toy_translation,
                    translate, word_by_word, word_order_sentiment)
from .vocab import BOS, EOS, PAD, SEP, UNK, Vocab

__all__ = [
    "SeqData", "batches", "check_mask", "lengths_to_mask", "masked_mean", "pad",
    "char_windows", "corpus_vocab", "load_corpus", "SERIES", "load_series", "make_windows",
    "IGNORE", "adding_problem", "associative_recall", "copy_task", "delayed_recall", "key_token_task", "lag_task", "majority_task",
    "parity_task", "reverse_task", "selective_copy", "toy_translation", "count_clauses", "reverse_sources", "word_by_word", "translate",
    "word_order_sentiment",
    "BOS", "EOS", "PAD", "SEP", "UNK", "Vocab",
]
