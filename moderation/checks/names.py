"""Names of registered people in free text (titles, descriptions, tags, prompts).

No Django imports. Matching is case- and width-insensitive, and deliberately no cleverer:
- Hiragana and katakana are not folded into each other, accents are not stripped (stripping
  combining marks would also strip the dakuten from バ), "Barack Obama" does not match
  "BarackObama". Spellings the registry wants caught are listed as aliases.
- Names in spaced scripts (Latin, Cyrillic, Greek, Devanagari...) match whole words only:
  "Obama" matches "obama," "OBAMA" "Ｏｂａｍａ" "obama's" "obama_v2" and "obama2", but not
  "Obamacare" or "Obamas" (list a plural alias if it matters). Digits next to a name do not
  block it, since model and file names glue versions on ("obama2").
- Names containing Han, kana, Hangul, Thai, Lao, Khmer or Myanmar match as substrings, since
  those scripts do not separate words with spaces ("オバマの写真"; Hangul has spaces but
  particles attach to names, "오바마가"). A one-character alias in these scripts matches
  inside many unrelated words; the registry should not accept one.
- Between the words of a name, text may use any run of whitespace, `_`, `-` or a middle dot
  (・ ·): "barack  obama", "barack_obama", "Barack-Obama". Other punctuation between words
  must be as registered ("J.K. Rowling" matches "j.k._rowling", not "jk rowling"). In names
  matched as substrings separators are ignored: "バラク・オバマ" matches "バラクオバマ".
- Where one match lies inside a longer one, only the longer is reported: "michelle obama" is
  Michelle Obama, not also an "Obama" alias of someone else.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

# Scripts written without spaces between words, after NFKC (half-width kana become full-width).
_UNSPACED = (
    "\u0e00-\u0eff"  # Thai, Lao
    "\u1000-\u109f"  # Myanmar
    "\u1100-\u11ff"  # Hangul Jamo
    "\u1780-\u17ff"  # Khmer
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3130-\u318f"  # Hangul compatibility Jamo
    "\u31f0-\u31ff"  # Katakana phonetic extensions
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\uac00-\ud7af"  # Hangul syllables
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\U00020000-\U0003134f"  # CJK extensions B-G
)
# Combining marks are not `\w` in Python's re; without them Hindi, Arabic or Hebrew words
# would fall apart into pieces that match inside other words.
_MARKS = (
    "\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed"
    "\u0900-\u0dff\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
)
_UNSPACED_CHAR = re.compile(f"[{_UNSPACED}]")
_SEPARATOR_CHARS = r"\s_\-\u00b7\u30fb"  # whitespace, _, -, middle dot, katakana middle dot
_SEPARATORS = re.compile(f"[{_SEPARATOR_CHARS}]+")
_SEPARATOR_SET = frozenset("_-\u00b7\u30fb")  # and whitespace
_WHITESPACE = re.compile(r"\s+")
# A word: a run of spaced-script letters (with their marks), or a run of digits.
_WORD = re.compile(rf"(?:[^\W\d_{_UNSPACED}]|[{_MARKS}])+|\d+")


@dataclass(frozen=True)
class NameEntry:
    person_id: int
    name: str  # one entry per name or alias, as the registry spells it


@dataclass(frozen=True)
class NameMatch:
    person_id: int
    name: str  # the registered name or alias that matched
    found: str  # the matching text, normalised (see `normalise`)


def fold(text: str) -> str:
    """NFKC, casefolded, without invisible format characters: what the name and the prompt
    checks compare.

    NFKC turns full-width Latin into ASCII and half-width katakana into full-width ("ｵﾊﾞﾏ" ->
    "オバマ"); the second NFKC settles characters that casefolding decomposes. Zero-width
    spaces and joiners and soft hyphens are invisible, but would split a name or a word.
    """
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return "".join(ch for ch in folded if unicodedata.category(ch) != "Cf")


def normalise(text: str) -> str:
    """`fold`, with whitespace collapsed to single spaces and stripped."""
    return _WHITESPACE.sub(" ", fold(text)).strip()


def _words(text: str) -> tuple[tuple[str, ...], tuple[str, ...], list[re.Match[str]]]:
    """The words of normalised text, the gaps between them (separator runs as one space)."""
    found = list(_WORD.finditer(text))
    words = tuple(m.group() for m in found)
    gaps = tuple(
        _SEPARATORS.sub(" ", text[a.end() : b.start()])
        for a, b in zip(found, found[1:], strict=False)
    )
    return words, gaps, found


class NameMatcher:
    """A registry of names indexed once; `find` costs a few dict look-ups per word of text.

    Reuse one instance while the registry is unchanged.
    """

    def __init__(self, entries: Iterable[NameEntry]) -> None:
        # Spaced names: by their words, then the gaps the text must reproduce.
        self._spaced: dict[tuple[str, ...], dict[tuple[str, ...], list[NameEntry]]] = {}
        self._spaced_lengths: set[int] = set()
        # Unspaced names: by the name without separators, looked up by its first character.
        self._unspaced: dict[str, list[NameEntry]] = {}
        self._unspaced_lengths: dict[str, set[int]] = {}
        for entry in entries:
            name = normalise(entry.name)
            if _UNSPACED_CHAR.search(name):
                key = _SEPARATORS.sub("", name)
                self._unspaced.setdefault(key, []).append(entry)
                self._unspaced_lengths.setdefault(key[0], set()).add(len(key))
                continue
            words, gaps, _ = _words(name)
            if words:
                self._spaced.setdefault(words, {}).setdefault(gaps, []).append(entry)
                self._spaced_lengths.add(len(words))
        self._spaced_lengths_desc = sorted(self._spaced_lengths, reverse=True)

    def find(self, text: str) -> list[NameMatch]:
        """Matches in order of first appearance, one per (person, registered name)."""
        text = normalise(text)
        hits = self._find_spaced(text) + self._find_unspaced(text)
        matches: dict[tuple[int, str], NameMatch] = {}
        for start, end, entries in _outermost(hits):
            for entry in entries:
                key = (entry.person_id, entry.name)
                if key not in matches:
                    matches[key] = NameMatch(entry.person_id, entry.name, text[start:end])
        return list(matches.values())

    def _find_spaced(self, text: str) -> list[tuple[int, int, list[NameEntry]]]:
        if not self._spaced:
            return []
        words, gaps, found = _words(text)
        hits = []
        for i in range(len(words)):
            for length in self._spaced_lengths_desc:
                if i + length > len(words):
                    continue
                by_gaps = self._spaced.get(words[i : i + length], {})
                entries = by_gaps.get(gaps[i : i + length - 1])
                if entries:
                    hits.append((found[i].start(), found[i + length - 1].end(), entries))
        return hits

    def _find_unspaced(self, text: str) -> list[tuple[int, int, list[NameEntry]]]:
        if not self._unspaced:
            return []
        # Search the text with separators taken out, remembering where each character was.
        kept = [i for i, char in enumerate(text) if not (char.isspace() or char in _SEPARATOR_SET)]
        squeezed = "".join(text[i] for i in kept)
        hits = []
        for i, char in enumerate(squeezed):
            for length in self._unspaced_lengths.get(char, ()):
                entries = self._unspaced.get(squeezed[i : i + length])
                if entries:
                    hits.append((kept[i], kept[i + length - 1] + 1, entries))
        return hits


def _outermost(
    hits: list[tuple[int, int, list[NameEntry]]],
) -> list[tuple[int, int, list[NameEntry]]]:
    """Hits not lying inside a longer hit, in text order. Identical spans all stay."""
    hits = sorted(hits, key=lambda hit: (hit[0], -hit[1]))
    kept = []
    reach = -1  # furthest end of any earlier, different span; each such span starts no later
    span_reach = -1
    previous: tuple[int, int] | None = None
    for start, end, entries in hits:
        if (start, end) != previous:
            reach = max(reach, span_reach)
            previous = (start, end)
            span_reach = end
        if end > reach:
            kept.append((start, end, entries))
    return kept


@lru_cache(maxsize=8)
def _matcher(entries: tuple[NameEntry, ...]) -> NameMatcher:
    return NameMatcher(entries)


def find_names(text: str, entries: Sequence[NameEntry]) -> list[NameMatch]:
    """Registered names in `text`. The built matcher is cached per distinct `entries`, so
    callers with a large registry should keep the same tuple (or a NameMatcher) around."""
    return _matcher(tuple(entries)).find(text)
