CREATE DATABASE storeline_registry;
