import { describe, expect, it } from 'vitest';
import { grantsAdmin } from './auth.ts';

describe('grantsAdmin: the admin role from the JWT_ADMIN_CLAIM claims', () => {
  const DEFAULT = ['role', 'roles'];

  it('takes "admin", or a list holding it, from role or roles by default', () => {
    expect(grantsAdmin({ role: 'admin' }, DEFAULT)).toBe(true);
    expect(grantsAdmin({ roles: ['user', 'admin'] }, DEFAULT)).toBe(true);
    expect(grantsAdmin({ role: 'administrator' }, DEFAULT)).toBe(false);
    expect(grantsAdmin({ roles: 'user admin' }, DEFAULT)).toBe(false);
    expect(grantsAdmin({ roles: [['admin']] }, DEFAULT)).toBe(false);
    expect(grantsAdmin({ realm_access: { roles: ['admin'] } }, DEFAULT)).toBe(false);
  });

  it('walks a dot path into nested claims, and only the configured ones', () => {
    const keycloak = ['realm_access.roles'];
    expect(grantsAdmin({ realm_access: { roles: ['offline_access', 'admin'] } }, keycloak)).toBe(true);
    expect(grantsAdmin({ role: 'admin', roles: ['admin'] }, keycloak)).toBe(false);
    expect(grantsAdmin({ realm_access: ['admin'] }, keycloak)).toBe(false);
    expect(grantsAdmin({ realm_access: null }, keycloak)).toBe(false);
    expect(grantsAdmin({ realm_access: 'admin' }, keycloak)).toBe(false);
  });

  it('takes a namespaced claim whose name has dots of its own as a top-level claim first', () => {
    const auth0 = ['https://mediaflow.example.com/roles'];
    expect(grantsAdmin({ 'https://mediaflow.example.com/roles': ['admin'] }, auth0)).toBe(true);
    expect(grantsAdmin({ 'https://mediaflow.example.com/roles': ['user'] }, auth0)).toBe(false);
  });

  it('never reads inherited properties along a path', () => {
    expect(grantsAdmin({}, ['constructor.name'])).toBe(false);
    expect(grantsAdmin({ a: {} }, ['a.__proto__.role'])).toBe(false);
    expect(grantsAdmin({}, ['toString'])).toBe(false);
  });
});
