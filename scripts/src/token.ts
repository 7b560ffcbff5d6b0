import { loadConfigOrExit } from '@mediaflow/config';
import { SignJWT } from 'jose';

// npm run token -- <user-id> [expiry] [--admin]: a bearer token signed with JWT_SECRET, for trying the
// API by hand; --admin adds the admin role (the ops routes and the queue dashboard).
const args = process.argv.slice(2);
const admin = args.includes('--admin');
const [user, expiry = '12h'] = args.filter((arg) => arg !== '--admin');
if (!user) {
  console.error('usage: npm run token -- <user-id> [expiry, e.g. 12h] [--admin]');
  process.exit(2);
}
const config = loadConfigOrExit();
const token = await new SignJWT(admin ? { role: 'admin' } : {})
  .setProtectedHeader({ alg: 'HS256' })
  .setSubject(user)
  .setIssuedAt()
  .setExpirationTime(expiry)
  .sign(new TextEncoder().encode(config.jwt.secret));
console.log(token);
