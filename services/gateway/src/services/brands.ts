import type { Brand, BrandsRepository } from '@mediaflow/db';
import { HttpError } from './errors.ts';

/** Brands group posts; their members post for them and read their posts. */
export class Brands {
  private readonly brands: Pick<BrandsRepository, 'create' | 'listForMember'>;

  constructor(deps: { brands: Pick<BrandsRepository, 'create' | 'listForMember'> }) {
    this.brands = deps.brands;
  }

  /** A new brand, with its creator as its first member. */
  async create(userId: string, name: string): Promise<Brand> {
    const trimmed = name.trim();
    if (!trimmed) throw new HttpError(400, 'invalid_input', 'name must not be blank');
    return this.brands.create(trimmed, userId);
  }

  /** The brands the user is a member of. */
  list(userId: string): Promise<Brand[]> {
    return this.brands.listForMember(userId);
  }
}
