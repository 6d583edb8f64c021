#!/usr/bin/env python3
"""Write tests/data/multilingual_texts.json: the committed multilingual text list.

Texts come from Faker's locale providers (MIT licensed word lists, names, addresses and lorem
text for each locale), seeded so the list is reproducible, plus hand-written hard cases
(normalisation, emoji, control and zero-width characters, special-token look-alikes).

    python tools/make_texts.py [--out tests/data/multilingual_texts.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from faker import Faker

# (locale, script) — every locale below has its own word lists in Faker.
LOCALES = [
    ("en_US", "Latin"), ("de_DE", "Latin"), ("fr_FR", "Latin"), ("es_ES", "Latin"),
    ("it_IT", "Latin"), ("pt_BR", "Latin"), ("nl_NL", "Latin"), ("pl_PL", "Latin"),
    ("cs_CZ", "Latin"), ("tr_TR", "Latin"), ("vi_VN", "Latin"), ("id_ID", "Latin"),
    ("ru_RU", "Cyrillic"), ("uk_UA", "Cyrillic"), ("bg_BG", "Cyrillic"), ("el_GR", "Greek"),
    ("ar_AA", "Arabic"), ("fa_IR", "Arabic"), ("he_IL", "Hebrew"), ("hy_AM", "Armenian"),
    ("ka_GE", "Georgian"), ("hi_IN", "Devanagari"), ("bn_BD", "Bengali"), ("ta_IN", "Tamil"),
    ("th_TH", "Thai"), ("ja_JP", "Japanese"), ("zh_CN", "Han (simplified)"),
    ("zh_TW", "Han (traditional)"), ("ko_KR", "Hangul"),
]

PER_LOCALE = 80

HARD_CASES = [
    "", " ", "   \t\n  ", "\u00a0", "\u3000全角スペース\u3000",
    "<s>", "</s>", "<pad>", "<unk>", "<mask>", "a <s> b </s> c", "<s></s><s>",
    "ﬁnance ﬂow ﬀ", "①②③ ⑴⑵ ⒈⒉", "ＡＢＣ ａｂｃ １２３", "㎏ ㎞ ㏄ ℃ ℉ № ™", "Ⅻ ⅻ ½ ¼ ¾ x² H₂O",
    "e\u0301 vs é (combining acute)", "Å vs A\u030a", "ﾊﾝｶｸ ｶﾀｶﾅ", "ｶﾞ ｷﾞ ﾊﾟ",
    "👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 ❤️ 🇯🇵 🇩🇪", "emoji only: 🔥🔥🔥🚀", "zero\u200bwidth\u200cjoiner\u200dtext\ufeff",
    "tab\tseparated\tvalues", "line1\nline2\r\nline3", "control \x01\x02\x1f chars", "bell\x07 and delete\x7f",
    "soft\u00adhyphen", "right\u200fto\u200eleft marks", "mixed English and العربية and עברית",
    "Ünïcödé àçcéñts ŝŧŗåņğė", "ǅ ǈ ǋ titlecase digraphs", "İstanbul ıi ĞÜŞÖÇ", "straße STRASSE ß ẞ",
    "ꙮ ᚠᛇᚻ ⠓⠑⠇⠇⠕ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝐁𝐨𝐥𝐝", "math ∑∫∂√∞ ≠ ≤ ≥ ⊂ ⊃", "code: fn main() { println!(\"hi\"); }",
    "URL https://example.org/a?b=c&d=e#f and mail a.b@example.com", "1,234.56 1.234,56 ١٢٣٤ ۱۲۳۴ १२३४",
    "…" * 40, "a" * 300, "ab " * 200, "🙂" * 50,
]


def generate() -> list[dict[str, str]]:
    texts: list[dict[str, str]] = []
    for index, (locale, script) in enumerate(LOCALES):
        fake = Faker(locale)
        fake.seed_instance(1000 + index)
        for i in range(PER_LOCALE):
            kind = i % 4
            if kind == 0:
                text = fake.text(max_nb_chars=160)
            elif kind == 1:
                text = f"{fake.name()}, {fake.address()}"
            elif kind == 2:
                text = f"{fake.company()} — {fake.job()}"
            else:
                text = fake.sentence(nb_words=12)
            texts.append({"lang": locale, "script": script, "text": text})
    for text in HARD_CASES:
        texts.append({"lang": "mixed", "script": "hard case", "text": text})
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("tests/data/multilingual_texts.json"))
    args = parser.parse_args()
    texts = generate()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "source": "Faker locale providers (MIT), seeded; plus hand-written hard cases. Made by tools/make_texts.py",
        "languages": sorted({t["lang"] for t in texts}),
        "texts": texts,
    }
    args.out.write_text(json.dumps(doc, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print(f"wrote {len(texts)} texts in {len(LOCALES)} locales to {args.out}")


if __name__ == "__main__":
    main()
