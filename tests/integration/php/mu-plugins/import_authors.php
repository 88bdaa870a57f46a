<?php
/*
 * Test only: answers the importer's "Assign Authors" form as a person who keeps the defaults does,
 * for an import run from the command line (which posts no form, so that every item would go to the
 * importing user): each author of the file keeps an existing user of the same login, or becomes a
 * new user under their login. Runs when the importer has read the file's authors.
 */
add_action('import_start', function () {
    $importer = $GLOBALS['importer'] ?? null;
    if (!($importer instanceof WP_Import) || isset($_POST['imported_authors'])) {
        return;
    }
    $_POST['imported_authors'] = array();
    $_POST['user_map'] = array();
    foreach ($importer->authors as $login => $author) {
        $_POST['imported_authors'][] = $login;
        $_POST['user_map'][] = (int) username_exists($login);
    }
});
