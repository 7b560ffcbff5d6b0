import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../test-database.ts';
import { UsersRepository } from './users.ts';

describe('UsersRepository', () => {
  let database: TestDatabase;
  let users: UsersRepository;
  beforeAll(async () => {
    database = await createTestDatabase();
    users = new UsersRepository(database.db);
  });
  afterAll(() => database.drop());

  const rows = (id: string) => database.db.selectFrom('users').selectAll().where('id', '=', id).execute();

  it('writes a user the first time it is named', async () => {
    expect(await rows('auth0|123')).toEqual([]);
    await users.ensure('auth0|123');
    expect(await rows('auth0|123')).toEqual([{ id: 'auth0|123', createdAt: expect.any(Date) }]);
  });

  it('keeps the first row when named again, and any number of times at once', async () => {
    await users.ensure('bob');
    const [first] = await rows('bob');
    await users.ensure('bob');
    await Promise.all([users.ensure('bob'), users.ensure('bob'), users.ensure('carol'), users.ensure('carol')]);
    expect(await rows('bob')).toEqual([first]);
    expect(await rows('carol')).toHaveLength(1);
  });
});
