"""The behaviour reference (docs/behaviour.md) covers every rule id the repository cites, and links into it resolve.

Needs no server and reads nothing outside the repository. Rule ids are `R<n>` (SageMaker API rules) and `RA<n>`
(admin API rules) of the behaviour spec; they are cited in test names (`test_R73_…`), code comments, `--help` texts,
the README and docs/*.md, and each must have an anchor `<a id="r<n>">` in docs/behaviour.md.
"""
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BEHAVIOUR = os.path.join(ROOT, "docs", "behaviour.md")

# A rule id stands alone: no letter or digit either side. `_` is allowed on both sides so that test names such as
# `test_R87_R88_R89_delete…` count, while words that merely contain `R2` (e.g. `VAR2`, `R2D2`) do not.
RULE_ID = re.compile(r"(?<![A-Za-z0-9])(RA?\d+)(?![A-Za-z0-9])")
ANCHOR = re.compile(r"""<a\s+(?:name|id)\s*=\s*["']([^"']+)["']""")
BEHAVIOUR_LINK = re.compile(r"behaviour\.md#([^)\s\"'>`\]]+)")
IN_PAGE_LINK = re.compile(r"\]\(#([^)\s]+)\)")

# Source files whose matches are not citations: the fuzz corpora and the request fixtures are data, not text.
EXCLUDED_DIRS = {os.path.join("Tests", "Fuzz", "Corpus"), os.path.join("Tests", "Fixtures")}


def _read(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def _files(top, suffixes):
    """Files under ROOT/top ending in one of `suffixes`, skipping excluded and hidden directories (e.g. `.build`)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, top)):
        rel = os.path.relpath(dirpath, ROOT)
        dirnames[:] = sorted(d for d in dirnames
                             if not d.startswith(".") and d != "__pycache__" and os.path.join(rel, d) not in EXCLUDED_DIRS)
        found += [os.path.join(dirpath, name) for name in sorted(filenames) if name.endswith(suffixes)]
    return found


def _markdown_pages():
    """README.md and every docs/*.md page that exists."""
    pages = [os.path.join(ROOT, "README.md")]
    docs = os.path.join(ROOT, "docs")
    if os.path.isdir(docs):
        pages += [os.path.join(docs, n) for n in sorted(os.listdir(docs)) if n.endswith(".md")]
    return [p for p in pages if os.path.isfile(p)]


def _citing_files():
    return _files("Tests", (".py", ".swift")) + _files("Sources", (".swift",)) + _markdown_pages()


def _slug(heading, seen):
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens, `-1`… for repeats."""
    text = re.sub(r"<[^>]+>", "", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    slug = text.replace(" ", "-")
    n = seen.get(slug, 0)
    seen[slug] = n + 1
    return slug if n == 0 else f"{slug}-{n}"


def _targets(text):
    """Every fragment a link may name in a page: explicit anchors and heading slugs."""
    targets = set(ANCHOR.findall(text))
    seen = {}
    in_fence = False
    for line in text.splitlines():
        if line.startswith("```"):
            in_fence = not in_fence
        elif not in_fence and re.match(r"#{1,6} ", line):
            targets.add(_slug(line.lstrip("#"), seen))
    return targets


def test_behaviour_page_exists():
    assert os.path.isfile(BEHAVIOUR), "docs/behaviour.md is missing"


def test_every_cited_rule_id_has_an_anchor_in_behaviour_md():
    anchors = set(ANCHOR.findall(_read(BEHAVIOUR)))
    missing = {}
    for path in _citing_files():
        for rule in set(RULE_ID.findall(_read(path))):
            if rule.lower() not in anchors:
                missing.setdefault(rule, set()).add(os.path.relpath(path, ROOT))
    assert not missing, "rule ids cited but without an anchor in docs/behaviour.md:\n" + "\n".join(
        f"  {rule}: {', '.join(sorted(files))}"
        for rule, files in sorted(missing.items(), key=lambda kv: (kv[0].startswith("RA"), int(kv[0].lstrip("RA")))))


def test_the_scan_sees_the_citations_it_should():
    """Guards the scan itself: test names, Swift comments and the README are all read."""
    cited = set()
    for path in _citing_files():
        cited |= set(RULE_ID.findall(_read(path)))
    assert {"R1", "R68", "R122", "RA1", "RA11"} <= cited, sorted(cited)


def test_links_into_behaviour_md_resolve():
    targets = _targets(_read(BEHAVIOUR))
    broken = []
    for page in _markdown_pages():
        text = _read(page)
        fragments = BEHAVIOUR_LINK.findall(text)
        if os.path.abspath(page) == os.path.abspath(BEHAVIOUR):
            fragments += IN_PAGE_LINK.findall(text)
        broken += [f"{os.path.relpath(page, ROOT)}: #{frag}" for frag in fragments if frag not in targets]
    assert not broken, "links to anchors that docs/behaviour.md does not have:\n  " + "\n  ".join(sorted(set(broken)))


def test_entries_have_the_reference_layout():
    """Each id anchor is on its own line, followed by `### <ID> — <title>`; each rule entry has a `Source:` line."""
    lines = _read(BEHAVIOUR).splitlines()
    problems = []
    seen = set()
    for i, line in enumerate(lines):
        match = re.fullmatch(r'<a id="((?:r|ra|d|o)\d+)"></a>', line)
        if not match:
            continue
        anchor = match.group(1)
        if anchor in seen:
            problems.append(f"{anchor}: anchor defined twice")
        seen.add(anchor)
        heading = lines[i + 1] if i + 1 < len(lines) else ""
        if not heading.startswith(f"### {anchor.upper()} — "):
            problems.append(f"{anchor}: next line is {heading!r}, not '### {anchor.upper()} — …'")
        if anchor.startswith("r"):
            body = []
            for follow in lines[i + 2:]:
                if follow.startswith("<a id=") or follow.startswith("#"):
                    break
                body.append(follow)
            if not any(b.startswith("Source:") for b in body):
                problems.append(f"{anchor}: no 'Source:' line")
    assert not problems, "\n".join(problems)
