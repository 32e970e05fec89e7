-- The os module: Wippy's global os table (time, date, clock, difftime, platform) for the
-- entries that list os among their modules and require it.
return os
