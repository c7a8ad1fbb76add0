#!/usr/bin/env python3
"""ABI hygiene checks, run by meson test (suite 'abi').

  abi_check.py exports NM LIB HEADER...
      Every symbol LIB defines in its dynamic table is a public mobj_ name
      (not mobj__), and every MOBJ_EXPORT (or MOBJ_RING_INLINE: inline in
      the header, exported too) function declared in HEADER... is among
      them.

  abi_check.py docs HEADER...
      Every MOBJ_EXPORT declaration is directly preceded by a doc comment
      (/** ... */).

  abi_check.py headers INCDIR CC|- CXX|- HEADER...
      Each HEADER compiles alone in a tiny translation unit with
      CC -std=c11 -pedantic -Werror and with CXX -std=c++11 -pedantic -Werror
      ('-' skips a compiler).

Exit 0 on success, 1 with a list of problems, 77 (skip) when a tool is
missing.
"""
import os
import re
import shlex
import subprocess
import sys
import tempfile

# MOBJ_RING_INLINE: static inline in the header, and exported as well.
EXPORT_RE = re.compile(r'(?:MOBJ_EXPORT|MOBJ_RING_INLINE)\b[^;{]*?\b(mobj_\w+)\s*\(',
                       re.S)


def declared(headers):
    names = set()
    for h in headers:
        with open(h, encoding='utf-8') as f:
            text = f.read()
        # Comments may mention MOBJ_EXPORT; only code counts.
        text = re.sub(r'/\*.*?\*/', ' ', text, flags=re.S)
        text = re.sub(r'//[^\n]*', ' ', text)
        names.update(EXPORT_RE.findall(text))
    return names


def exported(nm, lib):
    macho = lib.endswith('.dylib')
    # Mach-O has no dynamic symbol table apart: external defined symbols,
    # each with the leading underscore of C names there.
    args = [nm, '-gU', lib] if macho else [nm, '-D', '--defined-only', lib]
    try:
        out = subprocess.run(args, check=True,
                             capture_output=True, text=True).stdout
    except FileNotFoundError:
        print('nm not found: %s' % nm)
        sys.exit(77)
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        kind, name = parts[1], parts[2]
        if kind == 'A':  # version node, e.g. MOBJ_0.1
            continue
        if macho:
            if not name.startswith('_'):
                continue
            name = name[1:]
        names.add(name.split('@')[0])
    return names


def check_exports(nm, lib, headers):
    problems = []
    have = exported(nm, lib)
    for name in sorted(have):
        if not name.startswith('mobj_') or name.startswith('mobj__'):
            problems.append('%s exports %s, not a public mobj_ name'
                            % (os.path.basename(lib), name))
    want = declared(headers)
    if not want:
        problems.append('no MOBJ_EXPORT declarations found in %s' % headers)
    for name in sorted(want - have):
        problems.append('%s is declared MOBJ_EXPORT but %s does not export it'
                        % (name, os.path.basename(lib)))
    for name in sorted(have - want):
        problems.append('%s exports %s, which no header given declares'
                        % (os.path.basename(lib), name))
    print('%s: %d exported, %d declared' % (lib, len(have), len(want)))
    return problems


def check_docs(headers):
    problems = []
    count = 0
    for h in headers:
        with open(h, encoding='utf-8') as f:
            text = f.read()
        # Declarations only: an inline call's definition follows its
        # documented prototype.
        for m in re.finditer(r'^(?:MOBJ_EXPORT|MOBJ_RING_INLINE)\b[^;{]*?'
                             r'\b(mobj_\w+)\s*\((?=[^;{]*;)', text,
                             re.S | re.M):
            count += 1
            before = text[:m.start()].rstrip()
            start = before.rfind('/**')
            if not before.endswith('*/') or start < 0 or \
                    before.rfind('*/', 0, len(before) - 2) > start:
                problems.append('%s: %s has no doc comment'
                                % (os.path.basename(h), m.group(1)))
    print('%d public functions, %d undocumented' % (count, len(problems)))
    return problems


def check_headers(incdir, cc, cxx, headers):
    problems = []
    runs = []
    if cc != '-':
        runs.append(('c', shlex.split(cc) + ['-x', 'c', '-std=c11']))
    if cxx != '-':
        runs.append(('c++', shlex.split(cxx) + ['-x', 'c++', '-std=c++11']))
    flags = ['-pedantic', '-Werror', '-Wall', '-Wextra', '-fsyntax-only',
             '-I', incdir]
    with tempfile.TemporaryDirectory() as tmp:
        for h in headers:
            rel = os.path.relpath(h, incdir)
            src = os.path.join(tmp, 'tu.txt')
            with open(src, 'w', encoding='utf-8') as f:
                # Twice: the include guard must work too.
                f.write('#include <%s>\n#include <%s>\n'
                        'int mobj_abi_probe(void);\n'
                        'int mobj_abi_probe(void) { return 0; }\n' % (rel, rel))
            for lang, cmd in runs:
                try:
                    r = subprocess.run(cmd + flags + [src], capture_output=True,
                                       text=True)
                except FileNotFoundError:
                    print('compiler not found: %s' % cmd[0])
                    sys.exit(77)
                status = 'ok' if r.returncode == 0 else 'FAILED'
                print('%-24s %-4s %s' % (rel, lang, status))
                if r.returncode != 0:
                    problems.append('%s does not compile alone as %s:\n%s'
                                    % (rel, lang, r.stderr))
    return problems


def main(argv):
    if len(argv) >= 4 and argv[1] == 'exports':
        problems = check_exports(argv[2], argv[3], argv[4:])
    elif len(argv) >= 3 and argv[1] == 'docs':
        problems = check_docs(argv[2:])
    elif len(argv) >= 5 and argv[1] == 'headers':
        problems = check_headers(argv[2], argv[3], argv[4], argv[5:])
    else:
        print(__doc__)
        return 2
    for p in problems:
        print('error: ' + p)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
