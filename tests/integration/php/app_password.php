<?php
// Creates an application password for the administrator; prints the user name and the password.
require __DIR__ . '/bootstrap.php';
$user = get_user_by('id', 1);
// Each a name of its own: WordPress refuses a second password of the same name.
$made = WP_Application_Passwords::create_new_application_password(1, array('name' => uniqid('wparchive tests ')));
if (is_wp_error($made)) {
    fwrite(STDERR, $made->get_error_code() . ': ' . $made->get_error_message() . "\n");
    exit(1);
}
echo json_encode(array('user' => $user->user_login, 'password' => $made[0])), "\n";
