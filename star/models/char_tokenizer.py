"""A character-level tokenizer that vLLM, transformers and TRL all load.

The embedded tiny model reads digits one by one, so a character tokenizer is the
natural choice; it is saved as a standard `tokenizer.json` (WordLevel over single
characters, `Fuse` decoder) so every library treats it like any HF tokenizer.
The EOS string `</s>` is a registered special token because TRL appends the EOS
*string* to completions and it must encode back to one id.
"""

from __future__ import annotations

import string
from pathlib import Path

PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
SPECIAL_TOKENS = (PAD, BOS, EOS, UNK)
# Printable ASCII covers every prompt the embedded task writes; anything else is <unk>.
CHARACTERS = tuple(ch for ch in string.printable if ch not in "\r\x0b\x0c")


def build_char_tokenizer(save_dir: Path | None = None):
    """Build (and optionally save) the character tokenizer; returns a PreTrainedTokenizerFast."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(SPECIAL_TOKENS + CHARACTERS)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    # One piece per character, newlines and spaces included.
    core.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    core.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token=PAD, bos_token=BOS, eos_token=EOS, unk_token=UNK,
        clean_up_tokenization_spaces=False,
    )
    tokenizer.model_max_length = 1024
    if save_dir is not None:
        tokenizer.save_pretrained(str(save_dir))
    return tokenizer
