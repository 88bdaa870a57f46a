<?php
// Loads WordPress for a command-line script of the integration harness: argv[1] is the
// WordPress folder. Runs as the administrator, as the WordPress importer does, so that
// content is stored unfiltered (no kses).
if (PHP_SAPI !== 'cli') {
    exit(1);
}
$_SERVER['HTTP_HOST'] = '127.0.0.1';
$_SERVER['REQUEST_URI'] = '/';
require $argv[1] . '/wp-load.php';
