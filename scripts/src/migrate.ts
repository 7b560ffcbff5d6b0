import { loadConfigOrExit } from '@mediaflow/config';
import { PreflightError, prepareDatabase } from './preflight.ts';

// npm run migrate: create the database if needed and apply every pending migration.
const config = loadConfigOrExit();
try {
  const applied = await prepareDatabase(config);
  console.log(applied.length > 0 ? `applied migrations: ${applied.join(', ')}` : 'database is up to date');
} catch (error) {
  if (!(error instanceof PreflightError)) throw error;
  console.error(error.message);
  process.exitCode = 1;
}
