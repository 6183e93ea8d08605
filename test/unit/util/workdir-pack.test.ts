import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'

import {packWorkdir, parseIgnoreLine, unpackWorkdir, workdirEntries} from '../../../src/util/workdir-pack.js'

function tree(root: string, files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), {recursive: true})
    writeFileSync(join(root, path), text)
  }
}

describe('workdir packing', () => {
  let root: string
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'skyhop-pack-test-'))
  })
  afterEach(() => rmSync(root, {recursive: true, force: true}))

  it('honours .gitignore and .skyhopignore at every level, negation, anchoring, ** and dir-only rules', async () => {
    tree(root, {
      '.gitignore': '# comment\n*.log\n/build\ndata/\n!keep.log\n',
      '.skyhopignore': 'secrets/**\ndocs/*.pdf\n',
      'train.py': 'print(1)\n',
      'keep.log': 'kept\n',
      'run.log': 'dropped\n',
      'build/out.o': 'x',
      'src/build/gen.py': 'anchored /build only drops the top one',
      'src/data': 'a file named data is not a directory',
      'data/big.bin': 'x',
      'secrets/a/key': 'x',
      'docs/a.pdf': 'x',
      'docs/sub/b.pdf': 'kept: * stops at a slash',
      'src/.gitignore': 'gen?.py\n',
      'src/gen1.py': 'x',
      'src/gen10.py': 'kept',
      '.git/HEAD': 'ref',
    })
    const entries = await workdirEntries(root)
    expect(entries).to.deep.equal([
      '.gitignore',
      '.skyhopignore',
      'docs',
      'docs/sub',
      'docs/sub/b.pdf',
      'keep.log',
      'secrets',
      'src',
      'src/.gitignore',
      'src/build',
      'src/build/gen.py',
      'src/data',
      'src/gen10.py',
      'train.py',
    ])
  })

  it('parses escapes and skips blank lines and comments', () => {
    expect(parseIgnoreLine('', '')).to.equal(null)
    expect(parseIgnoreLine('   ', '')).to.equal(null)
    expect(parseIgnoreLine('# x', '')).to.equal(null)
    expect(parseIgnoreLine('\\#x', '')!.regex.test('#x')).to.equal(true)
    expect(parseIgnoreLine('\\!x', '')!.negate).to.equal(false)
    expect(parseIgnoreLine('a/**/b', '')!.regex.test('a/x/y/b')).to.equal(true)
    expect(parseIgnoreLine('a/**/b', '')!.regex.test('a/b')).to.equal(true)
    expect(parseIgnoreLine('[!a]b', '')!.regex.test('cb')).to.equal(true)
    expect(parseIgnoreLine('[!a]b', '')!.regex.test('ab')).to.equal(false)
  })

  it('gives the same bytes for the same content whatever the mtimes, and other bytes for other content', async () => {
    tree(root, {'a.py': 'a\n', 'dir/b.sh': 'echo b\n'})
    chmodSync(join(root, 'dir/b.sh'), 0o755)
    const first = await packWorkdir(root)
    utimesSync(join(root, 'a.py'), new Date(2001, 1, 1), new Date(2001, 1, 1))
    const second = await packWorkdir(root)
    writeFileSync(join(root, 'a.py'), 'changed\n')
    const third = await packWorkdir(root)
    try {
      expect(second.sha256).to.equal(first.sha256)
      expect(second.bytes).to.equal(first.bytes)
      expect(third.sha256).to.not.equal(first.sha256)
      expect(first.entries).to.equal(3)
      const listing = execFileSync('tar', ['-tvf', first.file], {encoding: 'utf8'})
      expect(listing).to.match(/^drwx.* 0\/0 .* 1970-01-01 00:00 dir\//m)
      const out = join(root, '..', `${root.split('/').pop()}-out`)
      mkdirSync(out)
      try {
        await unpackWorkdir(first.file, out)
        expect(readFileSync(join(out, 'dir/b.sh'), 'utf8')).to.equal('echo b\n')
        expect(execFileSync('stat', ['-c', '%a', join(out, 'dir/b.sh')], {encoding: 'utf8'}).trim()).to.match(/^7/)
      } finally {
        rmSync(out, {recursive: true, force: true})
      }
    } finally {
      await Promise.all([first.dispose(), second.dispose(), third.dispose()])
    }
  })
})
