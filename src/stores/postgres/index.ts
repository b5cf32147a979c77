export { type Migration, migrate } from './migrate.js';
