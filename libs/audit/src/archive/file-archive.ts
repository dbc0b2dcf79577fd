import { randomUUID } from 'node:crypto';
import { link, mkdir, open, readdir, readFile, unlink } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { pathToFileURL } from 'node:url';
import { AuditArchive } from './audit-archive.js';

/**
 * The archive in a directory (`file://`): for development, or a mounted volume whose storage
 * enforces retention itself. Objects are written to a temporary file, flushed, and linked into
 * place (which fails when the name exists, so nothing is ever replaced), then the directory is
 * flushed too: once `create` resolves, the object survives a crash. Files are read-only.
 */
export class FileArchive extends AuditArchive {
  readonly location: string;

  constructor(private readonly root: string) {
    super();
    this.location = pathToFileURL(root).href;
  }

  protected async list(prefix: string): Promise<string[]> {
    const dir = posix.dirname(prefix);
    const start = posix.basename(prefix);
    try {
      const names = await readdir(join(this.root, dir));
      return names
        .filter((n) => n.startsWith(start) && !n.startsWith('.'))
        .map((n) => `${dir}/${n}`);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  async read(key: string): Promise<Buffer | undefined> {
    try {
      return await readFile(join(this.root, key));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  protected async create(key: string, body: Buffer): Promise<'created' | 'exists'> {
    const path = join(this.root, key);
    const dir = dirname(path);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const temporary = join(dir, `.${randomUUID()}.tmp`);
    const file = await open(temporary, 'wx', 0o440);
    try {
      await file.writeFile(body);
      await file.sync();
    } finally {
      await file.close();
    }
    try {
      await link(temporary, path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return 'exists';
      throw error;
    } finally {
      await unlink(temporary);
    }
    await syncDirectory(dir);
    return 'created';
  }
}

/** Flushes a directory entry (a new name) to disk. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
