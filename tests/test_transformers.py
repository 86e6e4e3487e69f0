"""awrs.transformers.generate as a drop-in for model.generate in a typical script."""

from __future__ import annotations

import pytest

import awrs
from awrs.errors import GenerationError

pytestmark = pytest.mark.model
torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def hf(default_lm):
    tok = default_lm.tokenizer
    tok.padding_side = "left"
    return default_lm.model, tok


@pytest.fixture(scope="module")
def batch(hf):
    _model, tok = hf
    chats = [
        [{"role": "user", "content": "Give me a year."}],
        [{"role": "user", "content": "When did the war end? Answer with the year."}],
    ]
    texts = [tok.apply_chat_template(m, tokenize=False, add_generation_prompt=True) for m in chats]
    return tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)


def test_same_call_same_output_types(hf, batch):
    model, tok = hf
    c = awrs.Regex(r"(19|20)\d\d")
    kwargs = dict(**batch, max_new_tokens=8, do_sample=True, num_return_sequences=2, pad_token_id=tok.pad_token_id)
    reference = model.generate(**kwargs)
    out = awrs.transformers.generate(model, tokenizer=tok, constraint=c, **kwargs, seed=0)
    assert type(out) is type(reference) and out.dtype == reference.dtype and out.shape[0] == reference.shape[0]
    prompt_len = batch["input_ids"].shape[1]
    assert torch.equal(out[:, :prompt_len], batch["input_ids"].repeat_interleave(2, dim=0))  # left padding kept
    for text in tok.batch_decode(out[:, prompt_len:], skip_special_tokens=True):
        assert c.accepts(text), text

    ref_dict = model.generate(**kwargs, return_dict_in_generate=True)
    out_dict = awrs.transformers.generate(model, tokenizer=tok, constraint=c, **kwargs, return_dict_in_generate=True, seed=0)
    assert type(out_dict) is type(ref_dict)
    assert out_dict.sequences.shape[0] == 4 and out_dict.log_weights.shape == (4,) and bool(out_dict.valid.all())


def test_greedy_is_the_most_likely_allowed_token(hf, batch):
    model, tok = hf
    c = awrs.Choice(["1945", "1918"])
    out = awrs.transformers.generate(model, tokenizer=tok, constraint=c, input_ids=batch["input_ids"][1:], max_new_tokens=6)
    again = awrs.transformers.generate(model, tokenizer=tok, constraint=c, input_ids=batch["input_ids"][1:], max_new_tokens=6)
    assert torch.equal(out, again)  # do_sample=False is deterministic


def test_streamer_receives_the_tokens(hf, batch):
    model, tok = hf

    class Collect:
        def __init__(self):
            self.parts, self.ended = [], False

        def put(self, value):
            self.parts.append(value)

        def end(self):
            self.ended = True

    s = Collect()
    awrs.transformers.generate(
        model, tokenizer=tok, constraint=awrs.Regex(r"\d{4}"), input_ids=batch["input_ids"][1:], max_new_tokens=6, streamer=s
    )
    assert s.ended and len(s.parts) >= 2  # the prompt, then each new token


@pytest.mark.parametrize(
    "kwargs, why", [({"num_beams": 4}, "beam search"), ({"top_p": 0.9}, "truncates"), ({"repetition_penalty": 1.3}, "changes")]
)
def test_arguments_that_change_the_target_are_refused(hf, batch, kwargs, why):
    model, tok = hf
    with pytest.raises(GenerationError, match=why):
        awrs.transformers.generate(model, tokenizer=tok, constraint=awrs.Regex("a"), **batch, **kwargs)


def test_greedy_outputs_report_no_weight_rather_than_a_meaningless_one(hf, batch):
    """do_sample=False carries no importance weight: log_weights is NaN (it used to fail
    building the tensor once log_ml became None for greedy runs, and before that reported 0)."""
    model, tok = hf
    out = awrs.transformers.generate(
        model,
        tokenizer=tok,
        constraint=awrs.Regex(r"\d{4}"),
        input_ids=batch["input_ids"][1:],
        max_new_tokens=6,
        return_dict_in_generate=True,
    )
    assert torch.isnan(out.log_weights).all() and bool(out.valid.all())
    sampled = awrs.transformers.generate(
        model,
        tokenizer=tok,
        constraint=awrs.Regex(r"\d{4}"),
        input_ids=batch["input_ids"][1:],
        max_new_tokens=6,
        do_sample=True,
        return_dict_in_generate=True,
        seed=0,
    )
    assert torch.isfinite(sampled.log_weights).all()


def test_stop_strings_end_rows_where_they_appear(hf, batch):
    """transformers' stop_strings: the row keeps the tokens that wrote the stop string, no EOS
    after them, and the text before it satisfies the constraint."""
    model, tok = hf
    c = awrs.Regex(r"[0-9]+")
    prompt = batch["input_ids"][1:]
    out = awrs.transformers.generate(
        model,
        tokenizer=tok,
        constraint=c,
        input_ids=prompt,
        max_new_tokens=12,
        stop_strings=["9"],
        do_sample=True,
        seed=0,
        num_return_sequences=4,
    )
    rows = tok.batch_decode(out[:, prompt.shape[1] :], skip_special_tokens=True)
    assert any("9" in row for row in rows), rows  # the war ended in 1945: the model writes a 9
    for row in rows:
        if "9" in row:
            assert c.accepts(row[: row.index("9")]), row
