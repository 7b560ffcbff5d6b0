import { loadConfigOrExit } from '@mediaflow/config';
import { SignJWT } from 'jose';

// npm run token -- <user-id> [expiry]: a bearer token signed with JWT_SECRET, for trying the API by hand.
const [user, expiry = '12h'] = process.argv.slice(2);
if (!user) {
  console.error('usage: npm run token -- <user-id> [expiry, e.g. 12h]');
  process.exit(2);
}
const config = loadConfigOrExit();
const token = await new SignJWT({})
  .setProtectedHeader({ alg: 'HS256' })
  .setSubject(user)
  .setIssuedAt()
  .setExpirationTime(expiry)
  .sign(new TextEncoder().encode(config.jwt.secret));
console.log(token);
