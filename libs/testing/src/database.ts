export { createTestDatabase, type TestDatabase } from '@mediaflow/db/testing';
