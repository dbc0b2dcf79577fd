-- Up Migration

-- Whether a tenant's chat requests may carry image content parts, which then go to the model
-- and are recorded by their hash only. Off unless the tenant's operator turns it on.
ALTER TABLE tenants ADD COLUMN images boolean NOT NULL DEFAULT false;

-- Down Migration
ALTER TABLE tenants DROP COLUMN IF EXISTS images;
