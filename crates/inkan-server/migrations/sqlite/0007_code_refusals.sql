-- A payment code dies after three refused charges (issue 20): a terminal must not be able to
-- retry one code for its whole minute and learn the wallet's balance and limits amount by amount.
--
-- Per device, the counter of the code refused last and how many charges from it were refused
-- (`inkan_core::payment::CodeRefusals`). On the third, the code's counter becomes the device's
-- `last_counter`, as if it had paid: that code and every older one are dead.
ALTER TABLE devices ADD COLUMN refused_counter BIGINT;
ALTER TABLE devices ADD COLUMN refusals INTEGER NOT NULL DEFAULT 0;
