"""Deterministic drug-mention detection: the safety guardrail's trigger and the retrieval synonym map.

Everything here is table lookup plus a bounded edit distance, so the same text always gives the
same answer and no model, network or prompt can talk it out of a match. Text and lexicon go
through one normaliser (NFKC, case-fold, combining marks and invisible format characters
dropped), Cyrillic names also match with a Russian case ending, and long Latin/Cyrillic tokens
that are one or two typing slips away from a drug name count as inexact mentions.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class Drug:
    """One drug with every surface form we recognise (generic, brands, abbreviations, ru/es spellings)."""

    generic: str
    drug_class: str  # "jak" | "biologic" | "immunosuppressant"
    names: tuple[str, ...]
    # True only for the "JAK inhibitor" class phrase: it says a JAK inhibitor is in play but is
    # never counted as a *second* JAK inhibitor next to a named one ("Is Rinvoq a JAK inhibitor?").
    class_term: bool = False


@dataclass(frozen=True)
class Mention:
    """One occurrence of a drug in a text."""

    drug: Drug
    surface: str  # the text as written
    exact: bool  # False when matched by fuzzy (misspelling) matching
    # Offsets into the original text; left out of equality so Mention(drug, surface, exact) compares.
    start: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


def _d(generic: str, drug_class: str, *names: str, class_term: bool = False) -> Drug:
    return Drug(generic, drug_class, (generic, *names), class_term)


# Abbreviations are whole-token only and never fuzzy-matched. Deliberately left out because they
# are ordinary words or common non-drug acronyms: RIS/RISA (radiology information system, Spanish
# "risa"), GOL (Spanish "goal"), GLM (generalised linear model), TAC (Spanish "CT scan"),
# BARI, MIRI, GUS, VEDO, FIL, MP, JAK on its own (the JAK-STAT pathway is not a drug).
DRUGS: tuple[Drug, ...] = (
    # --- JAK inhibitors -----------------------------------------------------------------------
    _d("upadacitinib", "jak", "Rinvoq", "UPA", "ABT-494", "ABT494", "упадацитиниб", "Ринвок"),
    _d("tofacitinib", "jak", "Xeljanz", "TOFA", "CP-690550", "тофацитиниб", "Кселджанц",
       "Яквинус", "Jakvinus"),
    _d("filgotinib", "jak", "Jyseleca", "GLPG0634", "филготиниб", "Джиселека"),
    _d("baricitinib", "jak", "Olumiant", "барицитиниб", "Олумиант"),
    _d("ritlecitinib", "jak", "Litfulo", "ритлецитиниб", "Литфуло"),
    _d("abrocitinib", "jak", "Cibinqo", "аброцитиниб", "Сибинко"),
    _d("ruxolitinib", "jak", "Jakafi", "Jakavi", "руксолитиниб", "Джакави"),
    _d("peficitinib", "jak", "Smyraf", "пефицитиниб"),
    _d("ivarmacitinib", "jak", "SHR0302", "ивармацитиниб"),
    _d("brepocitinib", "jak", "брепоцитиниб"),
    _d("deucravacitinib", "jak", "Sotyktu", "деукравацитиниб"),
    _d("JAK inhibitor", "jak",
       "JAK inhibitors", "JAK1 inhibitor", "JAK1 inhibitors", "JAK1 selective inhibitor",
       "JAK1 selective inhibitors", "JAK blocker", "JAK blockers", "JAKi", "JAKis", "jakinib", "jakinibs",
       "Janus kinase inhibitor", "Janus kinase inhibitors", "Janus kinase 1 inhibitor",
       "ингибитор JAK", "ингибитор JAK1", "JAK-ингибитор", "ингибитор янус-киназ", "ингибитор янус-киназы",
       "inhibidor de JAK", "inhibidores de JAK", "inhibidor de la JAK", "inhibidores de la JAK",
       "inhibidor JAK", "inhibidores JAK", "inhibidor de JAK1", "inhibidores de JAK1",
       "inhibidor de Janus quinasa", "inhibidores de Janus quinasa", "inhibidor de Janus cinasa",
       "inhibidores de Janus cinasa", "inhibidores de las JAK",
       class_term=True),
    # --- Biologics ------------------------------------------------------------------------------
    _d("ustekinumab", "biologic", "Stelara", "UST", "устекинумаб", "Стелара", "Wezlana", "Pyzchiva",
       "Selarsdi", "Otulfi", "Imuldosa", "Steqeyma", "Yesintek", "Uzpruvo"),
    _d("risankizumab", "biologic", "Skyrizi", "RZB", "рисанкизумаб", "Скайризи"),
    _d("vedolizumab", "biologic", "Entyvio", "VDZ", "ведолизумаб", "Энтивио"),
    _d("infliximab", "biologic", "Remicade", "Inflectra", "Remsima", "Zessly", "Flixabi", "Ixifi", "Avsola",
       "Renflexis", "Zymfentra", "CT-P13", "IFX", "инфликсимаб", "Ремикейд", "Ремсима", "Фламмэгис"),
    _d("adalimumab", "biologic", "Humira", "ADA", "Amgevita", "Hyrimoz", "Imraldi", "Hulio", "Idacio",
       "Yuflyma", "Hadlima", "Cyltezo", "Abrilada", "Yusimry", "адалимумаб", "Хумира", "Далибра"),
    _d("certolizumab", "biologic", "certolizumab pegol", "Cimzia", "CZP", "цертолизумаб", "Симзия"),
    _d("golimumab", "biologic", "Simponi", "голимумаб", "Симпони"),
    _d("guselkumab", "biologic", "Tremfya", "гуселькумаб", "Тремфея"),
    _d("mirikizumab", "biologic", "Omvoh", "мирикизумаб"),
    _d("natalizumab", "biologic", "Tysabri", "Tyruko", "NTZ", "натализумаб", "Тизабри"),
    _d("etrolizumab", "biologic", "этролизумаб"),
    _d("etanercept", "biologic", "Enbrel", "этанерцепт", "Энбрел"),
    _d("secukinumab", "biologic", "Cosentyx", "секукинумаб", "Козэнтикс"),
    # --- Potent immunosuppressants ---------------------------------------------------------------
    _d("azathioprine", "immunosuppressant", "Imuran", "Azasan", "AZA", "азатиоприн", "Имуран",
       "azatioprina"),
    _d("cyclosporine", "immunosuppressant", "cyclosporin", "cyclosporin A", "ciclosporin", "ciclosporine",
       "ciclosporin A", "CsA", "CyA", "Neoral", "Sandimmune", "Sandimmun", "Gengraf", "циклоспорин",
       "Сандиммун", "Неорал", "ciclosporina", "ciclosporina A"),
    _d("methotrexate", "immunosuppressant", "MTX", "Trexall", "Otrexup", "Rasuvo", "Metoject",
       "метотрексат", "Методжект", "metotrexato"),
    _d("mercaptopurine", "immunosuppressant", "6-mercaptopurine", "6-MP", "6MP", "Purinethol", "Purixan",
       "меркаптопурин", "6-МП", "Пуринетол", "mercaptopurina", "6-mercaptopurina"),
    _d("tacrolimus", "immunosuppressant", "FK506", "FK-506", "Prograf", "Advagraf", "Envarsus",
       "такролимус", "Програф", "Адваграф"),
    _d("mycophenolate", "immunosuppressant", "mycophenolate mofetil", "mycophenolic acid", "CellCept",
       "Myfortic", "MMF", "микофенолат", "micofenolato"),
)

_CLASS_LABEL: Mapping[str, str] = MappingProxyType(
    {"jak": "JAK inhibitor", "biologic": "biologic", "immunosuppressant": "immunosuppressant"}
)

# --------------------------------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------------------------------


def _normalize_char(ch: str) -> str:
    # Compatibility forms (full-width, ligatures) fold to plain letters; combining marks go so
    # "combinación" == "combinacion" (and ё/й fold to е/и on both sides, which is harmless because
    # the lexicon passes through here too); format characters (zero-width space, soft hyphen) go
    # so they cannot split a drug name and hide it from the guardrail.
    out = []
    for c in unicodedata.normalize("NFD", unicodedata.normalize("NFKC", ch).casefold()):
        if unicodedata.category(c) not in ("Mn", "Me", "Cf"):
            out.append(c)
    return "".join(out)


_ASCII_RUN = re.compile(r"[\x00-\x7f]+|[^\x00-\x7f]+")


def _normalize_with_map(text: str) -> tuple[str, list[int]]:
    """Normalised text and, for each of its characters, the index of the source character."""
    parts: list[str] = []
    origin: list[int] = []
    memo: dict[str, str] = {}
    for m in _ASCII_RUN.finditer(text):
        s, base = m.group(), m.start()
        if s[0] < "\x80":
            # ASCII is unchanged by NFKC and case-folds like lower(): the common, fast path.
            parts.append(s.lower())
            origin.extend(range(base, m.end()))
            continue
        # Character by character, so every output character knows its source character.
        for j, ch in enumerate(s):
            n = memo.get(ch)
            if n is None:
                n = memo[ch] = _normalize_char(ch)
            if len(n) == 1:
                parts.append(n)
                origin.append(base + j)
            elif n:
                parts.append(n)
                origin.extend([base + j] * len(n))
    return "".join(parts), origin


def normalize(text: str) -> str:
    """NFKC, case-folded, accent- and format-character-stripped form of `text` used for matching."""
    return _normalize_with_map(text)[0]


# --------------------------------------------------------------------------------------------------
# Tokens, Russian endings, homoglyphs
# --------------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"[^\W_]+")
# Tokens of a multi-word name may be separated by spaces and dashes only ("ABT-494", "JAK inhibitor"),
# never by sentence punctuation.
_NAME_GAP = re.compile(r"[\s\-\u2010-\u2015\u2212]*")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LATIN = re.compile(r"[a-z\u00c0-\u024f]")

# Russian noun case endings (normalised, so "ой"/"ём" appear as "ои"/"ем"). A Cyrillic token matches
# a name when it is the name's stem plus one of these: "упадацитинибом", "Стелары", "Ринвоком".
_RU_ENDINGS = frozenset(
    normalize(e)
    for e in (
        "а", "я", "у", "ю", "е", "и", "ы", "о", "ь", "й", "ом", "ем", "ём", "ой", "ей", "ою", "ею", "ов",
        "ев", "ам", "ям", "ами", "ями", "ах", "ях", "ью",
    )
)
_RU_ENDING_LENGTHS = tuple(sorted({len(e) for e in _RU_ENDINGS}))
_RU_STEM_FINAL = frozenset(normalize("аяоеиыуюьй"))
_MIN_STEM = 4

# Look-alike letters: "Rіnvoq" typed with a Cyrillic і, or "упaдацитиниб" with a Latin a, is folded
# to one script (the token's majority) before lookup, so homoglyph tricks cannot dodge the guardrail.
_CYR_TO_LAT: Mapping[int, str] = MappingProxyType(
    str.maketrans("авекмнорстухіјѕԁԛԝү", "abekmhopctyxijsdqwy")
)
_LAT_TO_CYR: Mapping[int, str] = MappingProxyType(str.maketrans("abekmhopctyx", "авекмнорстух"))


def _is_cyrillic(tok: str) -> bool:
    return _CYRILLIC.search(tok) is not None


def _ru_stem(name_token: str) -> str:
    """A Cyrillic name token without its final vowel, the part that every case form keeps."""
    if len(name_token) > _MIN_STEM and name_token[-1] in _RU_STEM_FINAL:
        return name_token[:-1]
    return name_token


def _ru_bases(tok: str) -> tuple[str, ...]:
    """The token and the token with each Russian case ending removed (stems of at least 4 letters)."""
    out = [tok]
    for n in _RU_ENDING_LENGTHS:
        if len(tok) - n >= _MIN_STEM and tok[-n:] in _RU_ENDINGS:
            out.append(tok[:-n])
    return tuple(out)


def _script_forms(tok: str) -> tuple[str, ...]:
    """The token, plus its single-script folding when it mixes Latin and Cyrillic letters."""
    n_cyr = len(_CYRILLIC.findall(tok))
    n_lat = len(_LATIN.findall(tok))
    if not (n_cyr and n_lat):
        return (tok,)
    forms = [tok]
    if n_lat >= n_cyr:
        forms.append(tok.translate(_CYR_TO_LAT))
    if n_cyr >= n_lat:
        forms.append(tok.translate(_LAT_TO_CYR))
    return tuple(dict.fromkeys(forms))


def _keys(tok: str) -> tuple[str, ...]:
    """Lookup keys of a text token: itself (Latin) or its possible stems (Cyrillic), per script form."""
    out: list[str] = []
    for form in _script_forms(tok):
        out.extend(_ru_bases(form) if _is_cyrillic(form) else (form,))
    return tuple(dict.fromkeys(out))


def _name_key(name_token: str) -> str:
    return _ru_stem(name_token) if _is_cyrillic(name_token) else name_token


# --------------------------------------------------------------------------------------------------
# Precomputed lexicon
# --------------------------------------------------------------------------------------------------


_FUZZY_MIN, _FUZZY_MAX, _FUZZY_MIN_CYRILLIC = 6, 20, 8


def _build_lexicon() -> tuple[
    Mapping[str, Drug],
    Mapping[str, tuple[tuple[tuple[str, ...], Drug], ...]],
    Mapping[str, tuple[tuple[str, frozenset[str], Drug, int], ...]],
]:
    single: dict[str, Drug] = {}
    multi: dict[str, list[tuple[tuple[str, ...], Drug]]] = {}
    fuzzy: dict[str, list[tuple[str, frozenset[str], Drug, int]]] = {}
    for drug in DRUGS:
        for name in drug.names:
            toks = tuple(_name_key(t) for t in _TOKEN.findall(normalize(name)))
            if not toks:
                raise ValueError(f"drug name {name!r} has no letters or digits")
            if len(toks) > 1:
                multi.setdefault(toks[0], []).append((toks, drug))
                continue
            key = toks[0]
            other = single.get(key)
            if other is not None and other is not drug:
                raise ValueError(f"name {name!r} is claimed by both {other.generic} and {drug.generic}")
            single[key] = drug
            # Fuzzy candidates: proper names only (letters, 6+ characters); abbreviations and class
            # phrases are too short or too word-like to forgive typos in. Names of 10+ letters (the
            # -mab/-nib generics) forgive two slips, shorter ones one, because two slips on a short
            # brand reach ordinary words. Short Cyrillic brands are left out: their case-ending-free
            # stems are only 5-6 letters and we have no Russian vocabulary to vet them against.
            length = len(normalize(name))
            min_length = _FUZZY_MIN_CYRILLIC if _is_cyrillic(key) else _FUZZY_MIN
            if not drug.class_term and key.isalpha() and length >= min_length:
                budget = 2 if length >= 10 else 1
                fuzzy.setdefault(key[0], []).append((key, frozenset(key), drug, budget))
    multi_sorted = {k: tuple(sorted(v, key=lambda e: -len(e[0]))) for k, v in multi.items()}
    return (
        MappingProxyType(single),
        MappingProxyType(multi_sorted),
        MappingProxyType({k: tuple(v) for k, v in fuzzy.items()}),
    )


_SINGLE, _MULTI, _FUZZY = _build_lexicon()

# English words within the edit budget of a drug name, found by scanning a 22k-word English
# vocabulary (and its -s/-ed/-ing/... forms) against the lexicon: "neural" ~ Neoral,
# "program" ~ Prograf. They must never become inexact drug mentions.
_FUZZY_STOPWORDS = frozenset({"neural", "program"})


def _osa_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance (a swap counts as one edit), or limit + 1 once it exceeds limit."""
    la, lb = len(a), len(b)
    if abs(la - lb) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(lb + 1))
    for i in range(1, la + 1):
        ca = a[i - 1]
        cur = [i] + [0] * lb
        best = i
        for j in range(1, lb + 1):
            cb = b[j - 1]
            v = prev[j - 1] + (ca != cb)
            if prev[j] + 1 < v:
                v = prev[j] + 1
            if cur[j - 1] + 1 < v:
                v = cur[j - 1] + 1
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb and prev2[j - 2] + 1 < v:
                v = prev2[j - 2] + 1
            cur[j] = v
            if v < best:
                best = v
        if best > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[lb] if prev[lb] <= limit else limit + 1


def _fuzzy_lookup(tok: str, keys: tuple[str, ...]) -> Drug | None:
    """The drug whose name the token (with lookup keys `keys`) most plausibly misspells, or None."""
    if not (_FUZZY_MIN <= len(tok) <= _FUZZY_MAX) or not tok.isalpha() or tok in _FUZZY_STOPWORDS:
        return None
    best: tuple[int, Drug] | None = None
    for form in keys:
        if len(form) < _FUZZY_MIN - 1 or form in _FUZZY_STOPWORDS:
            continue
        letters = set(form)
        # Typos almost never hit the first letter; keying on it keeps the scan to a few names.
        for key, key_letters, drug, budget in _FUZZY.get(form[0], ()):
            # Each distinct letter the name lacks costs at least one edit: a cheap pre-check
            # that skips most of the dynamic programming.
            if abs(len(form) - len(key)) > budget or len(letters - key_letters) > budget:
                continue
            d = _osa_distance(form, key, budget)
            if d <= budget and (best is None or d < best[0]):
                best = (d, drug)
    return best[1] if best else None


# --------------------------------------------------------------------------------------------------
# Mentions
# --------------------------------------------------------------------------------------------------

_Token = tuple[str, int, int]  # normalised token, start, end (offsets into the normalised text)


def _surface(text: str, origin: list[int], start: int, end: int) -> tuple[str, int, int]:
    s, e = origin[start], origin[end - 1] + 1
    # Keep combining marks that follow the last letter ("vedolizumabé" typed with a combining accent).
    while e < len(text) and unicodedata.category(text[e]) in ("Mn", "Me"):
        e += 1
    return text[s:e], s, e


def _multi_match(norm: str, tokens: list[_Token], i: int, name_toks: tuple[str, ...]) -> bool:
    if i + len(name_toks) > len(tokens):
        return False
    for k in range(1, len(name_toks)):
        prev_end = tokens[i + k - 1][2]
        tok, start, _ = tokens[i + k]
        if _NAME_GAP.fullmatch(norm, prev_end, start) is None:
            return False
        if name_toks[k] not in _keys(tok):
            return False
    return True


def _mentions(text: str, norm: str, origin: list[int]) -> tuple[Mention, ...]:
    tokens = [(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(norm)]
    # Per-call memo of token -> (lookup keys, single-token match): long texts repeat their words.
    memo: dict[str, tuple[tuple[str, ...], tuple[Drug, bool] | None]] = {}
    out: list[Mention] = []
    i = 0
    while i < len(tokens):
        tok, start, _ = tokens[i]
        entry = memo.get(tok)
        if entry is None:
            keys = _keys(tok)
            drug = next((_SINGLE[k] for k in keys if k in _SINGLE), None)
            single = (drug, True) if drug is not None else None
            if single is None:
                fuzzy = _fuzzy_lookup(tok, keys)
                single = (fuzzy, False) if fuzzy is not None else None
            entry = memo[tok] = (keys, single)
        keys, single = entry
        found: tuple[Drug, int, bool] | None = None  # drug, tokens consumed, exact
        # Multi-word names first, longest first, so "JAK inhibitor" is one mention, not a "JAK" and
        # an "inhibitor", and "cyclosporin A" is not a cyclosporin plus a stray "A".
        for key in keys:
            for name_toks, drug in _MULTI.get(key, ()):
                if (found is None or len(name_toks) > found[1]) and _multi_match(norm, tokens, i, name_toks):
                    found = (drug, len(name_toks), True)
        if found is None and single is not None:
            found = (single[0], 1, single[1])
        if found is None:
            i += 1
            continue
        drug, n, exact = found
        surface, s, e = _surface(text, origin, start, tokens[i + n - 1][2])
        out.append(Mention(drug=drug, surface=surface, exact=exact, start=s, end=e))
        i += n
    return tuple(out)


def find_drugs(text: str) -> tuple[Mention, ...]:
    """Every drug mention in `text`, in order (brand, abbreviation, Russian/Spanish and misspelt forms)."""
    norm, origin = _normalize_with_map(text)
    return _mentions(text, norm, origin)


# --------------------------------------------------------------------------------------------------
# Combination wording and drug-class words
# --------------------------------------------------------------------------------------------------

_B, _E = r"(?<![^\W_])", r"(?![^\W_])"


def _rx(*alternatives: str) -> re.Pattern[str]:
    # Patterns are written in plain lower case with accents and normalised like the text; bodies
    # must avoid upper-case escapes (\W, \S), which case-folding would turn into their opposites.
    body = "|".join(normalize(a) for a in alternatives)
    return re.compile(f"{_B}(?:{body}){_E}")


_COMBINATION = _rx(
    # English ("combin" but not "combing"; "add" forms but not "address"/"additional")
    r"combin(?!gs?\b)\w*", r"combos?", r"dual", r"together", r"with", r"plus", r"add(?:s|ed|ing)?",
    r"add[\s-]*on\w*", r"concomitant\w*", r"concurrent\w*", r"simultaneous\w*", r"alongside", r"both",
    r"co[\s-]*administ\w*", r"co[\s-]*prescri\w*", r"in addition to", r"on top of",
    r"(?:at )?the same time", r"at once", r"(?:while|whilst) (?:on|taking|receiving|using)",
    # Russian
    r"комбин\w*", r"сочета\w*", r"вместе", r"совмест\w*", r"двойн\w*", r"одновременн\w*", r"добав\w*",
    r"плюс", r"на фоне", r"с", r"со", r"параллельн\w*",
    # Spanish
    r"junt[oa]s?", r"doble", r"asocia\w*", r"añad\w*", r"agreg\w*", r"con", r"concomitante\w*",
    r"simultane\w*", r"a la vez", r"al mismo tiempo", r"conjunt\w*", r"además de",
)
# "+", "&" and "w/" glue names together ("UPA+UST", "UPA w/UST"), so they need no trailing boundary.
_COMBINATION_SYMBOL = re.compile(r"[+&]|(?<![^\W_])w/")

# Drug-class words for rule (b); each pattern carries the label used in reasons.
_CLASS_WORDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("biologic class", _rx(
        r"biologic\w*", r"biosimilar\w*", r"anti[\s-]*tnf\w*",
        r"tnf[\s-]*(?:alpha|α|a)?[\s-]*(?:inhibitor|blocker|antagonist)\w*",
        r"anti[\s-]*integrin\w*", r"anti[\s-]*il[\s-]*\d+\w*", r"il[\s-]*(?:12[\s/-]*)?23\w*",
        r"monoclonal antibod\w*", r"anticuerpos? monoclonal\w*", r"moleculas? biologic\w*",
        r"биологическ\w*", r"биопрепарат\w*", r"гибп", r"генно[\s-]*инженерн\w*", r"анти[\s-]*фно\w*",
        r"ингибитор\w* фно", r"моноклональн\w* антител\w*",
    )),
    ("immunosuppressant class", _rx(
        r"immunosuppress\w*", r"immunomodulat\w*", r"thiopurin\w*", r"calcineurin inhibitor\w*",
        r"иммуносупресс\w*", r"иммунодепресс\w*", r"иммуномодулятор\w*", r"тиопурин\w*", r"цитостатик\w*",
        r"inmunosupres\w*", r"inmunomodulador\w*", r"tiopurin\w*",
        r"inhibidor\w* de (?:la )?calcineurina",
    )),
    ("advanced therapy class", _rx(
        r"advanced therap\w*", r"targeted therap\w*", r"terapias? avanzadas?", r"terapias? dirigidas?",
        r"таргетн\w* (?:терапи|препарат)\w*",
    )),
    ("second JAK inhibitor", _rx(
        r"(?:another|second|two|other|multiple|otros?|otras?|segund[oa]|dos|друг\w*|втор\w*|два|двух)"
        r"[\s-]+(?:\w+[\s-]+){0,2}(?:jak\w*|janus\w*)",
    )),
)

# Rule (c): phrases that name combination therapy itself.
_THERAPY = r"(?:therap\w*|treatment\w*|regimen\w*)"
_KIND = r"(?:targeted[\s-]+|advanced[\s-]+|biologic\w*[\s-]+)?"
_RU_KIND = r"(?:таргетн\w*[\s-]+|биологическ\w*[\s-]+)?"
_COMBINATION_THERAPY = _rx(
    rf"dual[\s-]+{_KIND}{_THERAPY}",
    r"dual[\s-]+(?:biologic\w*|targeted|advanced)",
    r"dtt",
    rf"combination[\s-]+(?:of[\s-]+)?{_KIND}{_THERAPY}",
    rf"combined[\s-]+{_KIND}{_THERAPY}",
    r"combo[\s-]+therap\w*",
    rf"двойн\w*[\s-]+{_RU_KIND}(?:терапи\w*|лечени\w*)",
    rf"комбинированн\w*[\s-]+{_RU_KIND}(?:терапи\w*|лечени\w*)",
    rf"комбинаци\w*[\s-]+{_RU_KIND}(?:терапи\w*|препарат\w*)",
    r"terapias?[\s-]+(?:\w+[\s-]+)?(?:dual\w*|doble\w*|combinad\w*|de[\s-]+combinacion\w*)",
    r"tratamientos?[\s-]+(?:\w+[\s-]+)?(?:dual\w*|doble\w*|combinad\w*)",
    r"doble[\s-]+terapia\w*",
)


def _first_match(pattern: re.Pattern[str], norm: str, origin: list[int], text: str) -> str | None:
    m = pattern.search(norm)
    if m is None:
        return None
    return _surface(text, origin, m.start(), m.end())[0]


def mentions_combination(text: str) -> bool:
    """True when the text uses combination wording (combine, with, plus, "+", сочетать, junto, ...)."""
    norm = normalize(text)
    return bool(
        _COMBINATION.search(norm) or _COMBINATION_SYMBOL.search(norm) or _COMBINATION_THERAPY.search(norm)
    )


def _describe(m: Mention) -> str:
    if m.drug.class_term:
        head = "JAK inhibitor class"
    else:
        head = f"{_CLASS_LABEL[m.drug.drug_class]}: {m.drug.generic}"
    if not m.exact:
        return f"{head} (as '{m.surface}', probable misspelling)"
    if m.drug.class_term or normalize(m.surface) != normalize(m.drug.generic):
        return f"{head} (as '{m.surface}')"
    return head


def concerns_jak_combination(text: str) -> tuple[bool, tuple[str, ...]]:
    """Whether the text concerns combining a JAK inhibitor with a biologic, JAK or immunosuppressant; why."""
    norm, origin = _normalize_with_map(text)
    mentions = _mentions(text, norm, origin)
    first: dict[Drug, Mention] = {}
    for m in mentions:
        first.setdefault(m.drug, m)
    named_jaks = [d for d in first if d.drug_class == "jak" and not d.class_term]
    has_jak = any(d.drug_class == "jak" for d in first)
    if not has_jak:
        return False, ()
    partners = [d for d in first if d.drug_class in ("biologic", "immunosuppressant")]

    class_hits = [
        (label, surface)
        for label, pattern in _CLASS_WORDS
        if (surface := _first_match(pattern, norm, origin, text)) is not None
    ]
    combo_word = _first_match(_COMBINATION, norm, origin, text) or _first_match(
        _COMBINATION_SYMBOL, norm, origin, text
    )
    therapy_phrase = _first_match(_COMBINATION_THERAPY, norm, origin, text)

    rule_a = bool(partners) or len(named_jaks) >= 2
    rule_b = combo_word is not None and bool(class_hits)
    rule_c = therapy_phrase is not None
    if not (rule_a or rule_b or rule_c):
        return False, ()

    reasons = [_describe(m) for m in first.values()]
    reasons += [f"{label}: '{surface}'" for label, surface in class_hits]
    if therapy_phrase is not None:
        reasons.append(f"combination-therapy phrase: '{therapy_phrase}'")
    if combo_word is not None:
        reasons.append(f"combination wording: '{combo_word}'")
    return True, tuple(dict.fromkeys(reasons))


def expand_query(text: str) -> str:
    """The text plus the generic name of each drug it mentions under another name (lexical retrieval)."""
    written_as_generic: set[Drug] = set()
    order: dict[Drug, None] = {}
    for m in find_drugs(text):
        order.setdefault(m.drug, None)
        if m.exact and normalize(m.surface) == normalize(m.drug.generic):
            written_as_generic.add(m.drug)
    extra = [d.generic for d in order if d not in written_as_generic]
    return f"{text} {' '.join(extra)}" if extra else text
