<?php
/*
 * Test only: the importer says why an item failed ("Failed to import Media …: Sorry, this file
 * type is not permitted …") instead of only that it did.
 */
if (!defined('IMPORT_DEBUG')) {
    define('IMPORT_DEBUG', true);
}
