import type { Db } from '../client.ts';

export class UsersRepository {
  private readonly db: Db;
  constructor(db: Db) {
    this.db = db;
  }

  /** A user row appears the first time a valid token names it. */
  async ensure(id: string): Promise<void> {
    await this.db
      .insertInto('users')
      .values({ id })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
  }
}
