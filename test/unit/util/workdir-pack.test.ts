import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {
  appendFileSync,
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'

import {
  packWorkdir,
  parseIgnoreLine,
  scanWorkdir,
  unpackWorkdir,
  workdirEntries,
  workdirFingerprint,
} from '../../../src/util/workdir-pack.js'

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

  describe('fingerprint (the re-launch cache)', () => {
    beforeEach(() => {
      tree(root, {
        '.gitignore': '*.log\n',
        '.skyhopignore': '.skyhopignore\ndata/\n',
        'a.py': 'a\n',
        'pkg/b.py': 'b\n',
        'pkg/deep/c.py': 'c\n',
        'pkg/z.py': 'after a subdirectory\n',
        'run.log': 'ignored\n',
        'data/big.bin': 'ignored\n',
        'zz.txt': 'last\n',
      })
    })

    it('one walk lists what workdirEntries lists, with the fingerprint workdirFingerprint gives for it', async () => {
      const scan = await scanWorkdir(root, {fingerprint: true})
      const entries = await workdirEntries(root)
      expect(scan.entries).to.deep.equal(entries)
      expect(scan.entries).to.deep.equal(['.gitignore', 'a.py', 'pkg', 'pkg/b.py', 'pkg/deep', 'pkg/deep/c.py', 'pkg/z.py', 'zz.txt'])
      expect(scan.fingerprint)
        .to.match(/^[0-9a-f]{64}$/)
        .and.to.equal(await workdirFingerprint(root, entries))
      expect((await scanWorkdir(root, {fingerprint: false})).fingerprint).to.equal(null)
    })

    it('is the same while nothing packed changes, and changes with every change the archive would carry', async () => {
      const fingerprint = async () => (await scanWorkdir(root, {fingerprint: true})).fingerprint
      const seen = new Map<string, string>([[await fingerprint(), 'start']])
      expect(await fingerprint(), 'nothing changed').to.equal([...seen.keys()][0])
      // What is left out changes nothing.
      writeFileSync(join(root, 'run.log'), 'still ignored, longer\n')
      writeFileSync(join(root, 'data', 'new.bin'), 'x')
      expect(await fingerprint(), 'an ignored file changed').to.equal([...seen.keys()][0])
      const later = (path: string) => {
        const t = statSync(join(root, path)).mtime
        return new Date(t.getTime() + 5000)
      }
      const changes: Array<[string, () => void]> = [
        ['content of another size', () => writeFileSync(join(root, 'pkg/deep/c.py'), 'c, longer\n')],
        ['same size, another mtime', () => utimesSync(join(root, 'a.py'), later('a.py'), later('a.py'))],
        ['a file made executable', () => chmodSync(join(root, 'pkg/z.py'), 0o755)],
        ["a directory's mode", () => chmodSync(join(root, 'pkg/deep'), 0o700)],
        ['a file added', () => writeFileSync(join(root, 'pkg/new.py'), '')],
        ['an empty directory added', () => mkdirSync(join(root, 'empty'))],
        ['a file removed', () => unlinkSync(join(root, 'pkg/b.py'))],
        ['a directory removed', () => rmSync(join(root, 'empty'), {recursive: true})],
        ['a symlink added', () => symlinkSync('a.py', join(root, 'link'))],
        ['a symlink pointed elsewhere', () => (unlinkSync(join(root, 'link')), symlinkSync('zz.txt', join(root, 'link')))],
        // .skyhopignore leaves itself out: only what it changes in the entries can be seen.
        ['an ignore file that leaves out one more file', () => appendFileSync(join(root, '.skyhopignore'), 'zz.txt\n')],
        ['an ignore file that takes a file back', () => appendFileSync(join(root, '.gitignore'), '!run.log\n')],
        ['a file renamed', () => (writeFileSync(join(root, 'a2.py'), readFileSync(join(root, 'a.py'))), unlinkSync(join(root, 'a.py')))],
      ]
      for (const [what, change] of changes) {
        change()
        const now = await fingerprint()
        expect(seen.has(now), `${what}: the fingerprint of "${seen.get(now)}" again`).to.equal(false)
        seen.set(now, what)
      }
    })

    it('hands the event loop a turn between directories while it walks', async () => {
      let turns = 0
      let next: NodeJS.Immediate | undefined
      const spin = () => {
        turns++
        next = setImmediate(spin)
      }
      next = setImmediate(spin)
      try {
        await scanWorkdir(root, {fingerprint: true, sliceMs: 0})
      } finally {
        clearImmediate(next)
      }
      // A walk that never yielded would end (in microtasks) before the first of these ran.
      expect(turns).to.be.greaterThan(0)
    })
  })
})
