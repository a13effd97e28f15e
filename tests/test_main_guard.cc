// Keeps amid_tests a valid target while tests/unit and tests/integration grow.
