// Every workflow the keyless worker runs.
export { migratePipeline } from './migrate-pipeline';
export { migrateFleet } from './migrate-fleet';
